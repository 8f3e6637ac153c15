// Failure handling of the consumer and the backfill against real services: a consumer PROCESS killed with
// SIGKILL mid-stream and restarted loses and duplicates nothing; PostgreSQL stopped under a running consumer
// or backfill is waited for (transient retries, no DLQ rows, no commits past the outage), and a consumer stop
// during the outage abandons the batch without committing.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getProfile } from '../../../contract';
import { createPool } from '../../../db/pool';
import { runBackfill } from '../../../sync/backfill';
import { createSyncConsumer } from '../../../sync/consumer';
import {
  expectedFinalState,
  generatePayments,
  produceEvents,
  writeDump,
  type SynthEvent,
} from '../../../sync/synth';
import { startPrivatePostgres, type PrivatePostgres } from './private-pg';
import {
  dlqRows,
  expectDbMatches,
  kafkaFixture,
  randomTag,
  testPool,
  testProfile,
  waitFor,
  type KafkaFixture,
} from './support';

const tag = randomTag();
const prefix = `itr-${tag}-`;
const root = path.resolve(import.meta.dirname, '../../..');
let pool: pg.Pool;
let kx: KafkaFixture;

beforeAll(async () => {
  pool = testPool();
  kx = await kafkaFixture();
});
afterAll(async () => {
  await kx?.close();
  await pool?.end();
});

function synth(
  idPrefix: string,
  payments: number,
  seed: number,
  profile: Parameters<typeof generatePayments>[0]['profile'],
): SynthEvent[] {
  return [
    ...generatePayments({
      payments,
      seed,
      idPrefix,
      startTime: new Date('2026-02-10T00:00:00Z'),
      spanSec: 900,
      dupRate: 0.1,
      oooRate: 0.2,
      missingVersionRate: 0.05,
      orphanRate: 0.05,
      malformedRate: 0.03,
      profile,
    }),
  ];
}

function spawnConsumer(env: Record<string, string>): ChildProcess {
  // node --import tsx (not npx): SIGKILL must hit the consumer process itself, not a wrapper.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'sync/consumer-main.ts')], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

describe('consumer process killed with SIGKILL mid-stream', () => {
  it('restarts from the last commit: final state equals the oracle, every message applied or dead-lettered once', async () => {
    const profile = await testProfile(kx, `${tag}-kill`);
    const idPrefix = `${prefix}k-`;
    const events = synth(idPrefix, 1500, 5, profile);
    const expected = expectedFinalState(events, profile);
    const group = `${prefix}kill`;
    const env = {
      DATABASE_URL: process.env.DATABASE_URL ?? '',
      KAFKA_TOPIC_LEDGER: profile.topics.ledger,
      KAFKA_TOPIC_ORDER: profile.topics.order,
      CONSUMER_GROUP: group,
      CONSUMER_START: 'earliest',
      CONSUMER_METRICS_PORT: String(20000 + Math.floor(Math.random() * 20000)),
      CONSUMER_PARTITIONS_CONCURRENCY: '2',
      // The killed member holds its partitions until its session expires: keep that short here.
      CONSUMER_SESSION_TIMEOUT_MS: '6000',
    };
    const half = Math.floor(events.length / 2);
    await produceEvents(events.slice(0, half), { producer: kx.producer, profile });

    const first = spawnConsumer(env);
    const firstExit = new Promise<NodeJS.Signals | null>((resolve) =>
      first.once('exit', (_code, signal) => resolve(signal)),
    );
    await waitFor('the first consumer to apply rows', async () => {
      const n = (
        await pool.query('SELECT count(*)::int AS n FROM bo.payment_orders WHERE order_id LIKE $1', [
          `${idPrefix}%`,
        ])
      ).rows[0].n;
      return n > 50;
    });
    // Keep producing while it consumes, and kill it while that tail is still being produced (the tail
    // takes ~1.5 s at this rate), so the kill lands mid-stream however fast the consumer is.
    const producing = produceEvents(events.slice(half), { producer: kx.producer, profile, rate: 2000 });
    await new Promise((r) => setTimeout(r, 300));
    first.kill('SIGKILL');
    expect(await firstExit).toBe('SIGKILL');
    await producing;

    const observer = createSyncConsumer({ groupId: group, profile, start: 'earliest', pool });
    const lagAfterKill = await observer.lag();
    expect(lagAfterKill.total).toBeGreaterThan(0); // it really died mid-stream

    const second = spawnConsumer(env);
    try {
      expect(await observer.waitUntilCaughtUp({ timeoutMs: 60_000 })).toBe(true);
    } finally {
      second.kill('SIGTERM');
      await new Promise((resolve) => second.once('exit', resolve));
      await observer.stop();
    }
    await expectDbMatches(pool, idPrefix, expected);
    // Per message: the malformed ones are in the DLQ exactly once (re-delivery never duplicates a row),
    // every other one decoded to a row that the final state reflects (checked above).
    const dlq = await dlqRows(pool, { topics: [profile.topics.ledger, profile.topics.order] });
    expect(dlq).toHaveLength(events.filter((e) => e.malformed).length);
    const good = events.filter((e) => !e.malformed).length;
    expect(good + dlq.length).toBe(events.length);
    expect(new Set(dlq.map((r) => `${r.topic}/${r.partition}/${r.offset}`)).size).toBe(dlq.length);
  });
});

describe('PostgreSQL stopped under a running consumer or backfill', () => {
  let pg: PrivatePostgres;
  let privatePool: pg.Pool;

  beforeAll(async () => {
    pg = await startPrivatePostgres();
    privatePool = createPool(pg.url, 4);
  });
  afterAll(async () => {
    await privatePool?.end().catch(() => undefined);
    await pg?.destroy();
  });

  it('backfill: retries the chunk the outage hit (both of its sessions) and ends in the one-by-one state', async () => {
    const profile = getProfile('canonical-v1');
    const idPrefix = `${prefix}bf-`;
    const events = synth(idPrefix, 3000, 13, profile);
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'txl-it-bf-'));
    const file = path.join(dir, 'dump.ndjson');
    await writeDump(events, file);
    let chunks = 0;
    let chunksAtOutage = -1;
    let outage: Promise<void> | undefined;
    try {
      const result = await runBackfill({
        dumpPath: file,
        until: new Date('2100-01-01T00:00:00Z'),
        profile,
        pool: privatePool,
        chunkLines: 200,
        onProgress: () => {
          chunks += 1;
          if (chunks === 2) {
            chunksAtOutage = chunks;
            outage = (async () => {
              await pg.stop();
              await new Promise((r) => setTimeout(r, 1500));
              await pg.start();
            })();
          }
        },
      });
      await outage;
      // The outage began with most of the dump still to load, and the run went on after it.
      expect(chunksAtOutage).toBe(2);
      expect(result.run.chunks).toBeGreaterThan(10);
      expect(result.linesRead).toBe(events.length);
    } finally {
      await outage?.catch(() => undefined);
      await pg.start().catch(() => undefined);
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
    await expectDbMatches(privatePool, idPrefix, expectedFinalState(events, profile));
    const dlq = await privatePool.query<{ n: number; reasons: string[] }>(
      `SELECT count(*)::int AS n, array_agg(DISTINCT reason) AS reasons FROM bo.consumer_dlq_events
        WHERE source = 'backfill' AND dump_file LIKE $1`,
      [`${dir}%`],
    );
    // Exactly the malformed lines, once each: the retried chunk did not dead-letter a transient failure.
    expect(dlq.rows[0]!.n).toBe(events.filter((e) => e.malformed).length);
    expect(dlq.rows[0]!.reasons ?? []).not.toContain('DB_REJECTED');
  });

  it('waits with transient retries, commits nothing past the outage, dead-letters nothing, and recovers', async () => {
    const profile = await testProfile(kx, `${tag}-pg`);
    const idPrefix = `${prefix}pg-`;
    const events = synth(idPrefix, 300, 9, profile);
    const third = Math.floor(events.length / 3);
    const [a, b, c] = [events.slice(0, third), events.slice(third, 2 * third), events.slice(2 * third)];
    const group = `${prefix}pg`;
    const consumer = createSyncConsumer({ groupId: group, profile, start: 'earliest', pool: privatePool });
    await consumer.start();
    try {
      await produceEvents(a, { producer: kx.producer, profile });
      expect(await consumer.waitUntilCaughtUp({ timeoutMs: 30_000 })).toBe(true);
      await expectDbMatches(privatePool, idPrefix, expectedFinalState(a, profile));

      // Outage 1: the consumer keeps retrying the batch and recovers when the database is back.
      await pg.stop();
      const committedBefore = (await consumer.lag()).partitions.map((p) => p.committed);
      await produceEvents(b, { producer: kx.producer, profile });
      await waitFor('transient retries', async () => consumer.stats().transientRetries >= 3, 20_000);
      const during = await consumer.lag();
      expect(during.total).toBeGreaterThan(0);
      expect(during.partitions.map((p) => p.committed)).toEqual(committedBefore);
      await pg.start();
      expect(await consumer.waitUntilCaughtUp({ timeoutMs: 30_000 })).toBe(true);
      await expectDbMatches(privatePool, idPrefix, expectedFinalState([...a, ...b], profile));

      // Outage 2: stop() during the retry loop abandons the batch without committing it.
      await pg.stop();
      const committedBefore2 = (await consumer.lag()).partitions.map((p) => p.committed);
      const retriesBefore = consumer.stats().transientRetries;
      await produceEvents(c, { producer: kx.producer, profile });
      await waitFor(
        'transient retries',
        async () => consumer.stats().transientRetries >= retriesBefore + 2,
        20_000,
      );
      const stopStarted = Date.now();
      await consumer.stop();
      expect(Date.now() - stopStarted).toBeLessThan(10_000);
      const observer = createSyncConsumer({ groupId: group, profile, start: 'earliest', pool: privatePool });
      expect((await observer.lag()).partitions.map((p) => p.committed)).toEqual(committedBefore2);
      await observer.stop();
    } finally {
      await consumer.stop();
      await pg.start().catch(() => undefined);
    }

    const resumed = createSyncConsumer({ groupId: group, profile, start: 'earliest', pool: privatePool });
    await resumed.start();
    try {
      expect(await resumed.waitUntilCaughtUp({ timeoutMs: 30_000 })).toBe(true);
    } finally {
      await resumed.stop();
    }
    await expectDbMatches(privatePool, idPrefix, expectedFinalState(events, profile));
    const dlq = await dlqRows(privatePool, { topics: [profile.topics.ledger, profile.topics.order] });
    // Only the malformed messages: no transient failure was ever dead-lettered.
    expect(dlq).toHaveLength(events.filter((e) => e.malformed).length);
    expect(dlq.every((r) => r.reason !== 'DB_REJECTED')).toBe(true);
  });
});

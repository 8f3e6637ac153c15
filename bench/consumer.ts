// npm run bench:consumer -- [--events 500000] [--fresh-sec 30] [--fresh-rate 2000] [--backfill-lines 1000000]
//                            [--only a,b,c] [--keep]
// (a) sustained apply rate: synthetic events (10% dup, 20% out-of-order) pre-produced to fresh topics, one
//     consumer from earliest, events/s until caught up;
// (b) freshness p50/p95/p99 (DB commit - Kafka record timestamp) at a steady rate, producer in a separate process;
// (c) backfill of an N-line dump, lines/s, into the empty tables of a scratch database (dropped afterwards; the
//     shared database when the role may not create one).
// Each figure is printed next to the raw COPY rate of the same (final, one-per-key) rows into scratch copies of
// the indexed tables (CREATE TABLE ... (LIKE bo.x INCLUDING ALL)), as a ratio. Real Kafka + PostgreSQL from env.
// Targets: (a) >= 20,000 events/s; (b) p95 < 300 ms; (c) >= 0.5 x raw COPY.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { getProfile, type EventProfile, type LedgerEntry, type PaymentOrder } from '../contract';
import { envOrExit } from '../core/env';
import { migrateToHead } from '../db/migrate';
import { createPool, withoutStatementTimeout } from '../db/pool';
import { runBackfill } from '../sync/backfill';
import { intFlag, runCli, UsageError } from '../sync/cli-args';
import { createSyncConsumer } from '../sync/consumer';
import { createKafka, ensureTopics, withTopics } from '../sync/kafka';
import {
  expectedFinalState,
  generatePayments,
  produceEvents,
  writeDump,
  type SynthOptions,
} from '../sync/synth';
import { requireStack } from './stack-check';

const USAGE = `usage: npm run bench:consumer -- [--events N] [--fresh-sec S] [--fresh-rate R] [--backfill-lines N] [--only a,b,c] [--keep]`;
const EVENTS_PER_PAYMENT = 4.4; // measured average of the generator with the rates below

const root = path.resolve(import.meta.dirname, '..');
const tag = randomBytes(3).toString('hex');
const prefix = `bench-${tag}-`;

function synthOptions(
  idPrefix: string,
  payments: number,
  profile: EventProfile,
  spanSec: number,
  startTime = new Date(Date.now() - spanSec * 1000),
): SynthOptions {
  return {
    payments,
    seed: 7,
    idPrefix,
    startTime,
    spanSec,
    dupRate: 0.1,
    oooRate: 0.2,
    missingVersionRate: 0.05,
    orphanRate: 0.02,
    malformedRate: 0.001,
    profile,
  };
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

// --- raw COPY baseline ------------------------------------------------------------------------------------

function copyField(v: string | number | null): string {
  if (v === null) return '\\N';
  return String(v).replace(
    /[\\\n\r\t]/g,
    (c) => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!,
  );
}

async function rawCopyRate(
  pool: pg.Pool,
  ledger: LedgerEntry[],
  orders: PaymentOrder[],
): Promise<{ rows: number; seconds: number; rowsPerSec: number }> {
  const t = `bench_raw_${tag}`;
  // Without the pool's statement timeout: the COPY of ~1M rows can outlast it on a slow moment of the host.
  return withoutStatementTimeout(pool, async (client) => {
    try {
      await client.query(`CREATE TABLE ${t}_ledger (LIKE bo.ledger_entries INCLUDING ALL)`);
      await client.query(`CREATE TABLE ${t}_orders (LIKE bo.payment_orders INCLUDING ALL)`);
      const now = new Date().toISOString();
      const ts = (d: Date | null) => (d ? d.toISOString() : null);
      const ledgerLines = ledger.map(
        (e) =>
          `${[e.tx_id, e.wallet_id, e.entry_type, e.amount, e.currency, e.related_id, e.related_type, ts(e.event_time), ts(e.updated_at), e.source_version, now, 'backfill'].map(copyField).join('\t')}\n`,
      );
      const orderLines = orders.map(
        (o) =>
          `${[o.order_id, o.status, o.status_group, o.amount, o.currency, o.payer_wallet_id, o.payee_wallet_id, ts(o.event_time), ts(o.updated_at), o.source_version, now, 'backfill'].map(copyField).join('\t')}\n`,
      );
      const slices = function* (lines: string[]): Generator<string> {
        for (let i = 0; i < lines.length; i += 5000) yield lines.slice(i, i + 5000).join('');
      };
      const t0 = performance.now();
      await client.query('BEGIN');
      await pipeline(
        Readable.from(slices(ledgerLines)),
        client.query(
          copyFrom(
            `COPY ${t}_ledger (tx_id, wallet_id, entry_type, amount, currency, related_id, related_type, event_time, updated_at, source_version, ingested_at, source) FROM STDIN`,
          ),
        ),
      );
      await pipeline(
        Readable.from(slices(orderLines)),
        client.query(
          copyFrom(
            `COPY ${t}_orders (order_id, status, status_group, amount, currency, payer_wallet_id, payee_wallet_id, event_time, updated_at, source_version, ingested_at, source) FROM STDIN`,
          ),
        ),
      );
      await client.query('COMMIT');
      const seconds = (performance.now() - t0) / 1000;
      const rows = ledger.length + orders.length;
      return { rows, seconds, rowsPerSec: rows / seconds };
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.query(`DROP TABLE IF EXISTS ${t}_ledger, ${t}_orders`).catch(() => undefined);
    }
  });
}

// --- cleanup ---------------------------------------------------------------------------------------------

async function cleanup(pool: pg.Pool, topics: string[], dumpDir: string | null): Promise<void> {
  const like = `${prefix}%`;
  // Deleting ~1M rows can outlast the pool's statement timeout.
  await withoutStatementTimeout(pool, async (client) => {
    await client.query('DELETE FROM bo.payment_ledger_pairs WHERE related_id LIKE $1', [like]);
    await client.query('DELETE FROM bo.ledger_entries WHERE tx_id LIKE $1', [like]);
    await client.query('DELETE FROM bo.payment_orders WHERE order_id LIKE $1', [like]);
  });
  if (topics.length) await pool.query('DELETE FROM bo.consumer_dlq_events WHERE topic = ANY($1)', [topics]);
  if (dumpDir) {
    await pool.query(`DELETE FROM bo.consumer_dlq_events WHERE source = 'backfill' AND dump_file LIKE $1`, [
      `${prefix}%`,
    ]);
    await pool.query('DELETE FROM bo.backfill_checkpoints WHERE dump_path LIKE $1', [`${dumpDir}%`]);
    await fs.promises.rm(dumpDir, { recursive: true, force: true });
  }
  if (topics.length) {
    const admin = createKafka().admin();
    await admin.connect();
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
}

// --- (a) sustained apply rate ----------------------------------------------------------------------------

async function benchApplyRate(pool: pg.Pool, events: number, topicsCreated: string[]): Promise<void> {
  const profile = withTopics(getProfile('canonical-v1'), {
    ledger: `bench-${tag}-a-ledger`,
    order: `bench-${tag}-a-order`,
  });
  const kafka = createKafka();
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [profile.topics.ledger, profile.topics.order], 2);
  await admin.disconnect();
  topicsCreated.push(profile.topics.ledger, profile.topics.order);

  const opts = synthOptions(`${prefix}a-`, Math.ceil(events / EVENTS_PER_PAYMENT), profile, 3600);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const tp = performance.now();
  const produced = await produceEvents(generatePayments(opts), { producer, profile, batchSize: 2000 });
  await producer.disconnect();
  const produceSec = (performance.now() - tp) / 1000;
  console.log(
    `(a) produced ${fmt(produced)} events in ${produceSec.toFixed(1)} s (${fmt(produced / produceSec)} events/s)`,
  );

  let batches = 0;
  let maxBatch = 0;
  const consumer = createSyncConsumer({
    groupId: `${prefix}a`,
    profile,
    start: 'earliest',
    pool,
    onBatchCommitted: (b) => {
      batches += 1;
      maxBatch = Math.max(maxBatch, b.messages);
    },
  });
  const t0 = performance.now();
  await consumer.start();
  const ok = await consumer.waitUntilCaughtUp({ timeoutMs: 30 * 60_000, pollMs: 100 });
  const t1 = performance.now();
  const stats = consumer.stats();
  await consumer.stop();
  if (!ok) throw new Error('(a) consumer did not catch up within 30 minutes');
  const seconds = (t1 - t0) / 1000; // includes the group join
  const rate = stats.consumed / seconds;

  const expected = expectedFinalState(generatePayments(opts), profile);
  const raw = await rawCopyRate(pool, [...expected.ledger.values()], [...expected.orders.values()]);
  console.log(
    `(a) consumer: ${fmt(stats.consumed)} events in ${seconds.toFixed(1)} s (from start(), join included) = ${fmt(rate)} events/s ` +
      `[applied ${fmt(stats.applied)}, unchanged ${fmt(stats.unchanged)}, stale ${fmt(stats.stale)}, dlq ${fmt(stats.dlq)}; ${batches} batches, max ${maxBatch} msgs]`,
  );
  console.log(
    `(a) raw COPY of the ${fmt(raw.rows)} final rows: ${fmt(raw.rowsPerSec)} rows/s -> consumer/raw = ${(rate / raw.rowsPerSec).toFixed(2)}   target >= 20,000 events/s: ${rate >= 20_000 ? 'MET' : 'NOT MET'}`,
  );
}

// --- (b) freshness at a steady rate ----------------------------------------------------------------------

async function benchFreshness(
  pool: pg.Pool,
  seconds: number,
  rate: number,
  topicsCreated: string[],
): Promise<void> {
  const suffix = `.bench-${tag}-b`;
  const base = getProfile('canonical-v1');
  const profile = withTopics(base, {
    ledger: base.topics.ledger + suffix,
    order: base.topics.order + suffix,
  });
  const admin = createKafka().admin();
  await admin.connect();
  await ensureTopics(admin, [profile.topics.ledger, profile.topics.order], 2);
  await admin.disconnect();
  topicsCreated.push(profile.topics.ledger, profile.topics.order);

  const freshnessMs: number[] = [];
  const consumer = createSyncConsumer({
    groupId: `${prefix}b`,
    profile,
    start: 'earliest',
    pool,
    onBatchCommitted: (b) => {
      const at = b.committedAt.getTime();
      for (const ts of b.recordTimestamps) freshnessMs.push(at - ts);
    },
  });
  await consumer.start();
  const payments = Math.ceil((seconds * rate) / EVENTS_PER_PAYMENT);
  // The producer runs in its own process (the synth CLI), so its CPU does not distort the consumer's timing.
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(root, 'sync/synth-main.ts'),
      '--to',
      'kafka',
      '--payments',
      String(payments),
      '--seed',
      '3',
      '--rate',
      String(rate),
      '--topic-suffix',
      suffix,
      '--id-prefix',
      `${prefix}b-`,
      '--malformed-rate',
      '0.001',
    ],
    { cwd: root, env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let summary = '';
  child.stdout.on('data', (d: Buffer) => (summary += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`(b) producer exited with ${code}`);
  await consumer.waitUntilCaughtUp({ timeoutMs: 60_000 });
  await consumer.stop();
  const produced = JSON.parse(summary.trim().split('\n').pop() ?? '{}') as {
    events?: number;
    seconds?: number;
  };
  const sorted = freshnessMs.sort((x, y) => x - y);
  const p95 = pct(sorted, 95);
  console.log(
    `(b) freshness over ${fmt(sorted.length)} events at ~${fmt((produced.events ?? 0) / (produced.seconds ?? 1))} events/s for ${(produced.seconds ?? 0).toFixed(0)} s: ` +
      `p50 ${pct(sorted, 50)} ms, p95 ${p95} ms, p99 ${pct(sorted, 99)} ms, max ${sorted[sorted.length - 1]} ms   target p95 < 300 ms: ${p95 < 300 ? 'MET' : 'NOT MET'}`,
  );
}

// --- (c) backfill ----------------------------------------------------------------------------------------

/**
 * A scratch database migrated to head, for (c): the backfill and its raw COPY baseline then both load into empty
 * tables, as a cutover backfill does (the shared database holds demo and test rows, while the baseline's LIKE
 * copies start empty). Null, with the reason printed, when the role may not create databases: (c) then runs in
 * the shared database.
 */
async function scratchDatabase(pool: pg.Pool): Promise<{ url: string; name: string } | null> {
  const name = `txlookup_bench_${tag}`;
  try {
    await pool.query(`CREATE DATABASE ${name}`);
  } catch (err) {
    console.log(
      `(c) no scratch database (${(err as Error).message}); the backfill loads into the shared database`,
    );
    return null;
  }
  const url = new URL(envOrExit().DATABASE_URL);
  url.pathname = `/${name}`;
  try {
    await migrateToHead(url.toString());
  } catch (err) {
    await dropScratchDatabase(pool, name).catch(() => undefined);
    throw err;
  }
  return { url: url.toString(), name };
}

async function dropScratchDatabase(pool: pg.Pool, name: string): Promise<void> {
  await pool.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

async function benchBackfill(sharedPool: pg.Pool, lines: number, keep: boolean): Promise<string> {
  const scratch = await scratchDatabase(sharedPool);
  const pool = scratch ? createPool(scratch.url, 10) : sharedPool;
  try {
    return await benchBackfillInto(pool, lines);
  } finally {
    if (scratch) {
      await pool.end();
      if (keep) console.log(`(c) kept scratch database ${scratch.name}`);
      else await dropScratchDatabase(sharedPool, scratch.name);
    }
  }
}

async function benchBackfillInto(pool: pg.Pool, lines: number): Promise<string> {
  const profile = getProfile('canonical-v1');
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), `txl-bench-${tag}-`));
  const opts = synthOptions(
    `${prefix}c-`,
    Math.ceil(lines / EVENTS_PER_PAYMENT),
    profile,
    86_400,
    new Date('2026-01-01T00:00:00Z'),
  );
  const file = path.join(dir, `${prefix}dump.ndjson.gz`);
  const tw = performance.now();
  const written = await writeDump(generatePayments(opts), file);
  console.log(
    `(c) wrote ${fmt(written)} lines (${(fs.statSync(file).size / 1e6).toFixed(1)} MB gz) in ${((performance.now() - tw) / 1000).toFixed(1)} s`,
  );
  const result = await runBackfill({
    dumpPath: file,
    until: new Date('2100-01-01T00:00:00Z'),
    profile,
    pool,
  });
  const rate = result.run.linesPerSec;
  const expected = expectedFinalState(generatePayments(opts), profile);
  const raw = await rawCopyRate(pool, [...expected.ledger.values()], [...expected.orders.values()]);
  console.log(
    `(c) backfill: ${fmt(result.linesRead)} lines in ${result.run.seconds.toFixed(1)} s = ${fmt(rate)} lines/s ` +
      `[db ${result.run.dbSeconds.toFixed(1)} s; inserted ${fmt(result.run.inserted)}, updated ${fmt(result.run.updated)}, stale ${fmt(result.run.stale)}, unchanged ${fmt(result.run.unchanged)}, dlq ${fmt(result.rowsDlq)}; ${result.run.chunks} chunks]`,
  );
  const finalRowsRate = (expected.ledger.size + expected.orders.size) / result.run.seconds;
  console.log(
    `(c) raw COPY of the ${fmt(raw.rows)} final rows: ${fmt(raw.rowsPerSec)} rows/s -> backfill lines/raw = ${(rate / raw.rowsPerSec).toFixed(2)}, ` +
      `backfill final rows/raw = ${(finalRowsRate / raw.rowsPerSec).toFixed(2)}   target >= 0.5: ${rate / raw.rowsPerSec >= 0.5 ? 'MET' : 'NOT MET'}`,
  );
  return dir;
}

await runCli(USAGE, async () => {
  const env = envOrExit();
  const { values } = parseArgs({
    options: {
      events: { type: 'string' },
      'fresh-sec': { type: 'string' },
      'fresh-rate': { type: 'string' },
      'backfill-lines': { type: 'string' },
      only: { type: 'string' },
      keep: { type: 'boolean' },
    },
    strict: true,
  });
  const only = new Set((values.only ?? 'a,b,c').split(',').map((s) => s.trim()));
  for (const o of only)
    if (!['a', 'b', 'c'].includes(o)) throw new UsageError(`--only takes a,b,c (got ${o})`);
  const events = intFlag(values.events, 'events', 500_000, 1000);
  const freshSec = intFlag(values['fresh-sec'], 'fresh-sec', 30, 1);
  const freshRate = intFlag(values['fresh-rate'], 'fresh-rate', 2000, 1);
  const backfillLines = intFlag(values['backfill-lines'], 'backfill-lines', 1_000_000, 1000);
  if (!(await requireStack(env, ['postgres', 'kafka']))) return 1;
  const pool = createPool(undefined, 10);
  const topics: string[] = [];
  let dumpDir: string | null = null;
  console.log(`bench:consumer tag ${tag} (ids ${prefix}*), ${os.cpus().length} CPUs`);
  try {
    if (only.has('a')) await benchApplyRate(pool, events, topics);
    if (only.has('b')) await benchFreshness(pool, freshSec, freshRate, topics);
    if (only.has('c')) dumpDir = await benchBackfill(pool, backfillLines, values.keep ?? false);
  } finally {
    if (!values.keep)
      await cleanup(pool, topics, dumpDir).catch((err: unknown) => console.error('cleanup failed:', err));
    await pool.end();
  }
  return 0;
});

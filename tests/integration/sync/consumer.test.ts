// The sync consumer against real Kafka + PostgreSQL: every LWW and pairing case end to end, a synthetic
// stream with duplicates / out-of-order / missing versions / orphans / malformed messages matching the
// oracle, whole-topic re-delivery changing nothing, a member joining mid-stream (rebalance), a batch failing on
// its apply lane (rewind), poison messages, and start positions.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { EventProfile } from '../../../contract';
import { createSyncConsumer, type SyncConsumer } from '../../../sync/consumer';
import { expectedFinalState, generatePayments, produceEvents } from '../../../sync/synth';
import {
  dlqRows,
  expectDbMatches,
  kafkaFixture,
  produceJson,
  randomTag,
  snapshot,
  testPool,
  testProfile,
  type KafkaFixture,
} from './support';

const tag = randomTag();
const prefix = `itc-${tag}-`;
let pool: pg.Pool;
let kx: KafkaFixture;
let profile: EventProfile;
const running: SyncConsumer[] = [];

async function startConsumer(
  group: string,
  start: 'earliest' | 'latest' | Date = 'earliest',
  p = profile,
  resetOffsets = false,
): Promise<SyncConsumer> {
  const c = createSyncConsumer({
    groupId: `${prefix}${group}`,
    profile: p,
    start,
    pool,
    maxWaitTimeInMs: 50,
    resetOffsets,
  });
  running.push(c);
  await c.start();
  return c;
}

async function caughtUp(c: SyncConsumer): Promise<void> {
  expect(await c.waitUntilCaughtUp({ timeoutMs: 30_000 })).toBe(true);
}

beforeAll(async () => {
  pool = testPool();
  kx = await kafkaFixture();
  profile = await testProfile(kx, tag);
});

afterAll(async () => {
  await Promise.all(running.map((c) => c.stop()));
  await kx?.close();
  await pool?.end();
});

const T = (sec: number) => new Date(Date.UTC(2026, 1, 24, 10, 0, sec)).toISOString();

function order(id: string, over: Record<string, unknown>) {
  return {
    order_id: `${prefix}${id}`,
    status: 'CREATED',
    amount: '100.00',
    currency: 'KRW',
    payer_wallet_id: `${prefix}w1`,
    payee_wallet_id: `${prefix}w2`,
    event_time: T(0),
    ...over,
  };
}
function entry(tx: string, over: Record<string, unknown>) {
  return {
    tx_id: `${prefix}${tx}`,
    wallet_id: `${prefix}w1`,
    entry_type: 'PAYMENT',
    amount: '100.00',
    currency: 'KRW',
    event_time: T(0),
    ...over,
  };
}

async function readOrder(id: string) {
  return (await pool.query('SELECT * FROM bo.payment_orders WHERE order_id = $1', [`${prefix}${id}`]))
    .rows[0];
}
async function readPair(related: string) {
  return (
    await pool.query('SELECT * FROM bo.payment_ledger_pairs WHERE related_id = $1', [`${prefix}${related}`])
  ).rows[0];
}

describe('consumer: LWW and pairing end to end', () => {
  it('applies every LWW case and pairing case as SPEC §2 says', async () => {
    const c = await startConsumer('lww');
    // Each case is a sequence of versions of one order, published in this order (one key -> one partition).
    const cases: { id: string; versions: Record<string, unknown>[]; expect: Record<string, unknown> }[] = [
      {
        id: 'upd-newer',
        versions: [
          { status: 'CREATED', updated_at: T(1) },
          { status: 'PAID', updated_at: T(2) },
        ],
        expect: { status: 'PAID' },
      },
      {
        id: 'upd-older',
        versions: [
          { status: 'PAID', updated_at: T(2) },
          { status: 'CREATED', updated_at: T(1) },
        ],
        expect: { status: 'PAID' },
      },
      {
        id: 'upd-equal',
        versions: [
          { status: 'PAID', updated_at: T(2) },
          { status: 'FAILED', updated_at: T(2) },
        ],
        expect: { status: 'PAID' },
      },
      {
        id: 'sv-newer',
        versions: [
          { status: 'CREATED', source_version: 1 },
          { status: 'PAID', version: 2 },
        ],
        expect: { status: 'PAID', source_version: 2 },
      },
      {
        id: 'sv-older',
        versions: [
          { status: 'PAID', source_version: 5 },
          { status: 'CREATED', source_version: 4 },
        ],
        expect: { status: 'PAID' },
      },
      {
        id: 'sv-equal',
        versions: [
          { status: 'PAID', source_version: 3 },
          { status: 'FAILED', source_version: 3 },
        ],
        expect: { status: 'PAID' },
      },
      // updated_at decides even when source_version disagrees
      {
        id: 'upd-beats-sv',
        versions: [
          { status: 'PAID', updated_at: T(5), source_version: 1 },
          { status: 'FAILED', updated_at: T(4), source_version: 9 },
        ],
        expect: { status: 'PAID' },
      },
      {
        id: 'none-arrival',
        versions: [{ status: 'CREATED' }, { status: 'PENDING' }],
        expect: { status: 'PENDING', status_group: 'IN_PROGRESS' },
      },
      {
        id: 'mixed-arrival',
        versions: [
          { status: 'PAID', updated_at: T(9) },
          { status: 'FAILED', source_version: 1 },
        ],
        expect: { status: 'FAILED', status_group: 'FAILED' },
      },
      {
        id: 'missing-after-versioned',
        versions: [{ status: 'PAID', updated_at: T(9), source_version: 4 }, { status: 'REFUNDED' }],
        expect: { status: 'REFUNDED', status_group: 'REFUNDED' },
      },
      {
        id: 'unknown-status',
        versions: [{ status: 'ON_HOLD' }],
        expect: { status: 'ON_HOLD', status_group: 'UNKNOWN' },
      },
    ];
    // Publish the first versions, let them land, then the second ones (a separate batch), and the
    // same pairs again in ONE batch on other keys to cover in-batch reduction.
    await produceJson(
      kx.producer,
      profile.topics.order,
      cases.map((k) => ({ key: `${prefix}${k.id}`, value: order(k.id, k.versions[0]!) })),
    );
    await caughtUp(c);
    await produceJson(
      kx.producer,
      profile.topics.order,
      cases
        .filter((k) => k.versions[1])
        .map((k) => ({ key: `${prefix}${k.id}`, value: order(k.id, k.versions[1]!) })),
    );
    await produceJson(
      kx.producer,
      profile.topics.order,
      cases.flatMap((k) =>
        k.versions.map((v) => ({ key: `${prefix}${k.id}-b`, value: order(`${k.id}-b`, v) })),
      ),
    );
    await caughtUp(c);
    for (const k of cases) {
      for (const id of [k.id, `${k.id}-b`]) {
        expect({ id, ...(await readOrder(id)) }).toMatchObject({ id, ...k.expect });
      }
    }

    // Pairing: opposite types pair in any order; conflicts are kept visible; other entries never pair.
    await produceJson(kx.producer, profile.topics.ledger, [
      { key: `${prefix}p1-pay`, value: entry('p1-pay', { related_id: `${prefix}ord-p1` }) },
      {
        key: `${prefix}p1-rec`,
        value: entry('p1-rec', {
          entry_type: 'RECEIVE',
          wallet_id: `${prefix}w2`,
          related_id: `${prefix}ord-p1`,
        }),
      },
      {
        key: `${prefix}p2-rec`,
        value: entry('p2-rec', { entry_type: 'RECEIVE', related_id: `${prefix}ord-p2` }),
      },
      { key: `${prefix}p3-pay-a`, value: entry('p3-pay-a', { related_id: `${prefix}ord-p3` }) },
      {
        key: `${prefix}p3-rec`,
        value: entry('p3-rec', { entry_type: 'RECEIVE', related_id: `${prefix}ord-p3` }),
      },
      {
        key: `${prefix}p4-refund`,
        value: entry('p4-refund', { entry_type: 'REFUND', related_id: `${prefix}ord-p4` }),
      },
      {
        key: `${prefix}p5-other`,
        value: entry('p5-other', { related_id: `${prefix}ord-p5`, related_type: 'SETTLEMENT' }),
      },
      { key: `${prefix}p6-none`, value: entry('p6-none', {}) },
      { key: `${prefix}p7-pay`, value: entry('p7-pay', { related_id: `${prefix}ord-p7` }) },
    ]);
    await caughtUp(c);
    expect(await readPair('ord-p2')).toMatchObject({
      pairing_status: 'INCOMPLETE',
      receive_tx_id: `${prefix}p2-rec`,
      payment_tx_id: null,
      completed_at: null,
    });
    // The PAYMENT of p2 "days later"; a second, different PAYMENT for p3 (conflict).
    await produceJson(kx.producer, profile.topics.ledger, [
      {
        key: `${prefix}p2-pay`,
        value: entry('p2-pay', { related_id: `${prefix}ord-p2`, event_time: T(86_400 * 3) }),
      },
      { key: `${prefix}p3-pay-b`, value: entry('p3-pay-b', { related_id: `${prefix}ord-p3` }) },
    ]);
    await caughtUp(c);
    expect(await readPair('ord-p1')).toMatchObject({
      pairing_status: 'COMPLETE',
      payment_tx_id: `${prefix}p1-pay`,
      receive_tx_id: `${prefix}p1-rec`,
    });
    const p2 = await readPair('ord-p2');
    expect(p2).toMatchObject({
      pairing_status: 'COMPLETE',
      payment_tx_id: `${prefix}p2-pay`,
      receive_tx_id: `${prefix}p2-rec`,
    });
    expect(p2.completed_at).toBeInstanceOf(Date);
    expect(await readPair('ord-p3')).toMatchObject({
      pairing_status: 'COMPLETE',
      payment_tx_id: `${prefix}p3-pay-a`,
      conflict_count: 1,
      conflict_tx_ids: [`${prefix}p3-pay-b`],
    });
    expect(await readPair('ord-p4')).toBeUndefined();
    expect(await readPair('ord-p5')).toBeUndefined();
    expect(await readPair('ord-p7')).toMatchObject({
      pairing_status: 'INCOMPLETE',
      payment_tx_id: `${prefix}p7-pay`,
      receive_tx_id: null,
    });
    const entries = (
      await pool.query(
        'SELECT tx_id, related_type FROM bo.ledger_entries WHERE tx_id LIKE $1 ORDER BY tx_id',
        [`${prefix}p%`],
      )
    ).rows;
    expect(entries).toHaveLength(11);
    expect(entries.find((e) => e.tx_id === `${prefix}p6-none`)?.related_type).toBe('UNKNOWN');

    const before = await snapshot(pool, prefix);
    // Replaying the conflicting PAYMENT and the completed pair changes nothing (COMPLETE never regresses).
    await produceJson(kx.producer, profile.topics.ledger, [
      { key: `${prefix}p3-pay-b`, value: entry('p3-pay-b', { related_id: `${prefix}ord-p3` }) },
      {
        key: `${prefix}p1-rec`,
        value: entry('p1-rec', {
          entry_type: 'RECEIVE',
          wallet_id: `${prefix}w2`,
          related_id: `${prefix}ord-p1`,
        }),
      },
    ]);
    await caughtUp(c);
    expect(await snapshot(pool, prefix)).toEqual(before);
    const stats = c.stats();
    expect(stats.dlq).toBe(0);
    expect(stats.consumed).toBe(stats.applied + stats.unchanged + stats.stale);
    await c.stop();
  });
});

describe('consumer: synthetic stream', () => {
  let synthProfile: EventProfile;
  const synthPrefix = `${prefix}s-`;
  let produced = 0;
  let expected: ReturnType<typeof expectedFinalState>;

  it('a stream with duplicates, out-of-order, missing versions, orphans and malformed messages ends in the oracle state', async () => {
    synthProfile = await testProfile(kx, `${tag}-s`);
    const opts = {
      payments: 300,
      seed: 11,
      idPrefix: synthPrefix,
      startTime: new Date('2026-02-01T00:00:00Z'),
      spanSec: 600,
      dupRate: 0.1,
      oooRate: 0.2,
      missingVersionRate: 0.1,
      orphanRate: 0.05,
      malformedRate: 0.05,
      profile: synthProfile,
    };
    const events = [...generatePayments(opts)];
    expected = expectedFinalState(events, synthProfile);
    expect(expected.dlq).toBe(events.filter((e) => e.malformed).length);
    expect(expected.dlq).toBeGreaterThan(5);
    produced = await produceEvents(events, { producer: kx.producer, profile: synthProfile, batchSize: 97 });
    const c = await startConsumer('synth-1', 'earliest', synthProfile);
    await caughtUp(c);
    await expectDbMatches(pool, synthPrefix, expected);
    const dlq = await dlqRows(pool, { topics: [synthProfile.topics.ledger, synthProfile.topics.order] });
    expect(dlq).toHaveLength(expected.dlq);
    const stats = c.stats();
    expect(stats.consumed).toBe(produced);
    // Every consumed message is applied, a no-op / lost to a newer version, or dead-lettered.
    expect(stats.applied + stats.unchanged + stats.stale + stats.dlq).toBe(produced);
    expect(stats.dlq).toBe(expected.dlq);
    await c.stop();
  });

  it('re-delivering the whole topics to a new group changes nothing', async () => {
    const before = await snapshot(pool, synthPrefix);
    const dlqBefore = await dlqRows(pool, {
      topics: [synthProfile.topics.ledger, synthProfile.topics.order],
    });
    const c = await startConsumer('synth-2', 'earliest', synthProfile);
    await caughtUp(c);
    expect(c.stats().consumed).toBe(produced);
    expect(c.stats().applied).toBe(0);
    expect(await snapshot(pool, synthPrefix)).toEqual(before);
    expect(await dlqRows(pool, { topics: [synthProfile.topics.ledger, synthProfile.topics.order] })).toEqual(
      dlqBefore,
    );
    await c.stop();
  });
});

describe('consumer: a second member joins the group mid-stream', () => {
  it('the rebalance while batches are on their lanes loses nothing: oracle state, each dead letter once', async () => {
    const p = await testProfile(kx, `${tag}-rb`);
    const rbPrefix = `${prefix}rb-`;
    const events = [
      ...generatePayments({
        payments: 1500,
        seed: 23,
        idPrefix: rbPrefix,
        startTime: new Date('2026-02-02T00:00:00Z'),
        spanSec: 600,
        dupRate: 0.1,
        oooRate: 0.2,
        missingVersionRate: 0.05,
        orphanRate: 0.02,
        malformedRate: 0.01,
        profile: p,
      }),
    ];
    const expected = expectedFinalState(events, p);
    const half = Math.floor(events.length / 2);
    await produceEvents(events.slice(0, half), { producer: kx.producer, profile: p, batchSize: 200 });
    const members = ['a', 'b'].map((m) =>
      createSyncConsumer({
        groupId: `${prefix}rebalance`,
        profile: p,
        start: 'earliest',
        pool,
        maxWaitTimeInMs: 50,
        clientId: `it-rebalance-${m}`,
      }),
    );
    running.push(...members);
    const [a, b] = members as [SyncConsumer, SyncConsumer];
    await a.start();
    // The second member joins while the first one is applying and the rest is still being produced.
    const producing = produceEvents(events.slice(half), { producer: kx.producer, profile: p, rate: 4000 });
    await new Promise((r) => setTimeout(r, 200));
    const joinedWhileBusy = (await a.lag()).total > 0;
    await b.start();
    await producing;
    await caughtUp(a);
    expect(joinedWhileBusy).toBe(true);
    await expectDbMatches(pool, rbPrefix, expected);
    const dlq = await dlqRows(pool, { topics: [p.topics.ledger, p.topics.order] });
    expect(dlq).toHaveLength(expected.dlq);
    expect(new Set(dlq.map((r) => `${r.topic}/${r.partition}/${r.offset}`)).size).toBe(dlq.length);
    // Re-delivery across the rebalance is allowed (at-least-once), loss is not.
    expect(a.stats().consumed + b.stats().consumed).toBeGreaterThanOrEqual(events.length);
    await Promise.all([a.stop(), b.stop()]);
  });
});

describe('consumer: a batch failing after the next fetch has begun', () => {
  it('rewinds its partition: the batch is fetched again although nothing follows it, and applied once it can be', async () => {
    const p = await testProfile(kx, `${tag}-rw`);
    // Every write fails with a refusal (SQLSTATE class 23) until the consumer reports the rewind; the
    // isolation then ends in a lone dead letter the database also refuses, which fails the batch.
    let armed = true;
    let refused = 0;
    // query() of the pool and of its clients refuses while armed; everything else is the real pool.
    const refusing = <T extends object>(real: T, wrapConnect: boolean): T =>
      new Proxy(real, {
        get(target, prop) {
          const value: unknown = Reflect.get(target, prop, target);
          if (typeof value !== 'function') return value;
          const fn = (value as (...a: unknown[]) => unknown).bind(target);
          if (prop === 'query')
            return (...args: unknown[]) => {
              if (!armed) return fn(...args);
              refused += 1;
              return Promise.reject(Object.assign(new Error('injected refusal'), { code: '23514' }));
            };
          if (prop === 'connect' && wrapConnect)
            return async () => refusing((await fn()) as pg.PoolClient, false);
          return fn;
        },
      });
    const flaky = refusing(pool, true);
    const logLines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk, ...rest) => {
      const line = String(chunk);
      if (line.includes('"batch failed; rewinding its partition to it"')) {
        logLines.push(line);
        armed = false;
      }
      return write(chunk as string, ...(rest as []));
    });
    try {
      const c = createSyncConsumer({
        groupId: `${prefix}rewind`,
        profile: p,
        start: 'earliest',
        pool: flaky,
        maxWaitTimeInMs: 50,
      });
      running.push(c);
      await c.start();
      const key = `${prefix}rw-key`; // one key -> one partition -> one batch, and nothing after it
      await produceJson(
        kx.producer,
        p.topics.order,
        ['rw-1', 'rw-2', 'rw-3'].map((id) => ({ key, value: order(id, { status: 'PAID' }) })),
      );
      await caughtUp(c);
      expect(logLines.length).toBeGreaterThan(0);
      expect(refused).toBeGreaterThan(0);
      for (const id of ['rw-1', 'rw-2', 'rw-3']) expect((await readOrder(id))?.status).toBe('PAID');
      expect(c.stats().consumed).toBe(3);
      expect(await dlqRows(pool, { topics: [p.topics.order] })).toEqual([]);
      await c.stop();
    } finally {
      spy.mockRestore();
    }
  });
});

describe('consumer: poison messages and start positions', () => {
  it('a poison message between good ones goes to the DLQ with its bytes and never blocks the partition', async () => {
    const c = await startConsumer('poison');
    const key = `${prefix}poison-key`; // one key -> one partition: good, bad, bad, good in offset order
    await produceJson(kx.producer, profile.topics.order, [
      { key, value: order('poison-1', { status: 'CREATED' }) },
      { key, value: '{"order_id": "broken', headers: { 'trace-id': 'abc-123' } },
      { key, value: Buffer.from([0xc3, 0x28, 0x7b]) },
      { key, value: order('poison-2', { status: 'PAID' }) },
    ]);
    await caughtUp(c);
    expect((await readOrder('poison-1'))?.status).toBe('CREATED');
    expect((await readOrder('poison-2'))?.status).toBe('PAID');
    const dlq = (await dlqRows(pool, { topics: [profile.topics.order] })).filter(
      (r) => (r.message_key as Buffer)?.toString() === key,
    );
    expect(dlq.map((r) => r.reason)).toEqual(['INVALID_JSON', 'INVALID_JSON']);
    expect(dlq[0]).toMatchObject({
      source: 'consumer',
      profile_id: 'canonical-v1',
      topic: profile.topics.order,
      headers: { 'trace-id': 'abc-123' },
    });
    expect((dlq[0]!.raw_value as Buffer).toString()).toBe('{"order_id": "broken');
    expect(Buffer.compare(dlq[1]!.raw_value as Buffer, Buffer.from([0xc3, 0x28, 0x7b]))).toBe(0);
    expect(Number(dlq[1]!.offset)).toBe(Number(dlq[0]!.offset) + 1);
    await c.stop();
  });

  it('a new group starts at latest or at a timestamp; an existing group resumes from its commits', async () => {
    const p = await testProfile(kx, `${tag}-pos`);
    await produceJson(kx.producer, p.topics.order, [
      { key: `${prefix}pos-old`, value: order('pos-old', {}) },
    ]);
    await new Promise((r) => setTimeout(r, 50));
    const mark = new Date();
    await new Promise((r) => setTimeout(r, 50));
    await produceJson(kx.producer, p.topics.order, [
      { key: `${prefix}pos-mid`, value: order('pos-mid', {}) },
    ]);

    const latest = await startConsumer('pos-latest', 'latest', p);
    const fromMark = await startConsumer('pos-mark', mark, p);
    expect(await fromMark.waitUntilCaughtUp({ timeoutMs: 20_000 })).toBe(true);
    await produceJson(kx.producer, p.topics.order, [
      { key: `${prefix}pos-new`, value: order('pos-new', {}) },
    ]);
    await caughtUp(latest);
    await caughtUp(fromMark);
    expect(latest.stats().consumed).toBe(1); // only pos-new
    expect(fromMark.stats().consumed).toBe(2); // pos-mid and pos-new
    await latest.stop();

    // Restart the timestamp group: it resumes from its committed offsets, consuming nothing again.
    await fromMark.stop();
    const resumed = await startConsumer('pos-mark', mark, p);
    await caughtUp(resumed);
    expect(resumed.stats().consumed).toBe(0);
    const lag = await resumed.lag();
    expect(lag.total).toBe(0);
    expect(lag.partitions).toHaveLength(4);
    await resumed.stop();

    // Explicit reprocessing: resetOffsets puts the group back at its start position despite its commits.
    const reset = await startConsumer('pos-mark', mark, p, true);
    await caughtUp(reset);
    expect(reset.stats().consumed).toBe(2);
    expect(reset.stats().applied).toBe(0); // re-delivery is a no-op
    await reset.stop();
  });
});

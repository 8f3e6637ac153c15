// Shared helpers of the sync integration tests: per-file topics/profiles, a producer, DB snapshots of an
// id prefix, and the comparison of the DB with the synth oracle. Real Kafka and PostgreSQL only.
import { randomBytes } from 'node:crypto';
import type { Admin, Kafka, Producer } from 'kafkajs';
import type pg from 'pg';
import { expect } from 'vitest';
import { getProfile, type EventProfile } from '../../../contract';
import { createPool } from '../../../db/pool';
import { createKafka, ensureTopics, withTopics } from '../../../sync/kafka';
import type { ExpectedState } from '../../../sync/synth';

export function randomTag(): string {
  return randomBytes(4).toString('hex');
}

export function testPool(max = 6): pg.Pool {
  return createPool(process.env.DATABASE_URL, max);
}

export interface KafkaFixture {
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  /** Topics created through testProfile; deleted by close(). */
  topics: string[];
  close(): Promise<void>;
}

export async function kafkaFixture(): Promise<KafkaFixture> {
  const kafka = createKafka({ clientId: 'sync-it' });
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const topics: string[] = [];
  return {
    kafka,
    admin,
    producer,
    topics,
    async close() {
      await producer.disconnect();
      if (topics.length) await admin.deleteTopics({ topics }).catch(() => undefined);
      await admin.disconnect();
    },
  };
}

/** canonical-v1 (or another profile) on fresh topics `it-<tag>-ledger` / `it-<tag>-order`, 2 partitions each. */
export async function testProfile(
  kx: KafkaFixture,
  tag: string,
  base = 'canonical-v1',
): Promise<EventProfile> {
  const profile = withTopics(getProfile(base), { ledger: `it-${tag}-ledger`, order: `it-${tag}-order` });
  await ensureTopics(kx.admin, [profile.topics.ledger, profile.topics.order], 2);
  kx.topics.push(profile.topics.ledger, profile.topics.order);
  return profile;
}

export async function produceJson(
  producer: Producer,
  topic: string,
  messages: { key: string; value: unknown; headers?: Record<string, string> }[],
): Promise<void> {
  await producer.sendBatch({
    acks: -1,
    topicMessages: [
      {
        topic,
        messages: messages.map((m) => ({
          key: m.key,
          value: Buffer.isBuffer(m.value)
            ? m.value
            : typeof m.value === 'string'
              ? m.value
              : JSON.stringify(m.value),
          headers: m.headers,
        })),
      },
    ],
  });
}

// --- DB snapshots ----------------------------------------------------------------------------------------

export interface Snapshot {
  ledger: Record<string, unknown>[];
  orders: Record<string, unknown>[];
  pairs: Record<string, unknown>[];
}

/** Every column of every row of the prefix (including ingested_at and source: a no-op must not touch them). */
export async function snapshot(pool: pg.Pool, prefix: string): Promise<Snapshot> {
  const like = `${prefix}%`;
  const [ledger, orders, pairs] = await Promise.all([
    pool.query('SELECT * FROM bo.ledger_entries WHERE tx_id LIKE $1 ORDER BY tx_id', [like]),
    pool.query('SELECT * FROM bo.payment_orders WHERE order_id LIKE $1 ORDER BY order_id', [like]),
    pool.query('SELECT * FROM bo.payment_ledger_pairs WHERE related_id LIKE $1 ORDER BY related_id', [like]),
  ]);
  return { ledger: ledger.rows, orders: orders.rows, pairs: pairs.rows };
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** The DB rows of the prefix equal the oracle's final state (business columns, pairs). */
export async function expectDbMatches(pool: pg.Pool, prefix: string, expected: ExpectedState): Promise<void> {
  const snap = await snapshot(pool, prefix);
  const ledger = snap.ledger.map((r) => ({
    tx_id: r.tx_id,
    wallet_id: r.wallet_id,
    entry_type: r.entry_type,
    amount: r.amount,
    currency: r.currency,
    related_id: r.related_id,
    related_type: r.related_type,
    event_time: iso(r.event_time as Date),
    updated_at: iso(r.updated_at as Date | null),
    source_version: r.source_version,
  }));
  const expectedLedger = [...expected.ledger.values()]
    .sort((a, b) => (a.tx_id < b.tx_id ? -1 : 1))
    .map((e) => ({ ...e, event_time: iso(e.event_time), updated_at: iso(e.updated_at) }));
  expect(ledger).toEqual(expectedLedger);

  const orders = snap.orders.map((r) => ({
    order_id: r.order_id,
    status: r.status,
    status_group: r.status_group,
    amount: r.amount,
    currency: r.currency,
    payer_wallet_id: r.payer_wallet_id,
    payee_wallet_id: r.payee_wallet_id,
    event_time: iso(r.event_time as Date),
    updated_at: iso(r.updated_at as Date | null),
    source_version: r.source_version,
  }));
  const expectedOrders = [...expected.orders.values()]
    .sort((a, b) => (a.order_id < b.order_id ? -1 : 1))
    .map((o) => ({ ...o, event_time: iso(o.event_time), updated_at: iso(o.updated_at) }));
  expect(orders).toEqual(expectedOrders);

  const pairs = snap.pairs.map((r) => ({
    related_id: r.related_id,
    payment_tx_id: r.payment_tx_id,
    receive_tx_id: r.receive_tx_id,
    pairing_status: r.pairing_status,
    conflict_tx_ids: r.conflict_tx_ids,
  }));
  const expectedPairs = [...expected.pairs.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([related_id, p]) => ({ related_id, ...p }));
  expect(pairs).toEqual(expectedPairs);
}

export async function dlqRows(
  pool: pg.Pool,
  where: { topics?: string[]; dumpFilePrefix?: string; source?: string },
): Promise<Record<string, unknown>[]> {
  if (where.topics) {
    return (
      await pool.query(
        'SELECT * FROM bo.consumer_dlq_events WHERE topic = ANY($1) ORDER BY topic, partition, "offset"',
        [where.topics],
      )
    ).rows;
  }
  return (
    await pool.query(
      'SELECT * FROM bo.consumer_dlq_events WHERE source = $2 AND dump_file LIKE $1 ORDER BY dump_file, dump_line',
      [`%/${where.dumpFilePrefix ?? ''}%`, where.source ?? 'backfill'],
    )
  ).rows;
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
  pollMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

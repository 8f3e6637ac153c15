// Shared helpers of the DB integration tests: real PostgreSQL (DATABASE_URL), unique id prefixes per file.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { LedgerEntry, PaymentOrder } from '../../../contract';
import { env } from '../../../core/env';
import {
  type BatchInput,
  type DlqInsert,
  type MergeSummary,
  type WriteSource,
  applyBatch,
  createStagingTables,
  mergeStagedLedger,
  mergeStagedOrders,
  stagingCopySql,
  toLedgerCopyLine,
  toOrderCopyLine,
} from '../../../db/apply';
import { migrateToHead } from '../../../db/migrate';
import { createPool } from '../../../db/pool';

export const databaseUrl = (): string => env().DATABASE_URL;

/** A prefix no other test run uses: isolation by ids, never by dropping data. */
export function uniquePrefix(label: string): string {
  return `t-${label}-${randomBytes(5).toString('hex')}-`;
}

export async function setupPool(max = 4): Promise<pg.Pool> {
  await migrateToHead(databaseUrl());
  return createPool(databaseUrl(), max);
}

export const T0 = Date.parse('2025-03-01T00:00:00Z');
export const at = (minutes: number): Date => new Date(T0 + minutes * 60_000);

export function entry(tx_id: string, over: Partial<LedgerEntry> = {}): LedgerEntry {
  return {
    tx_id,
    wallet_id: `${tx_id}-w`,
    entry_type: 'ADJUSTMENT',
    amount: '100.00',
    currency: 'KRW',
    related_id: null,
    related_type: 'UNKNOWN',
    event_time: at(0),
    updated_at: null,
    source_version: null,
    ...over,
  };
}

export function order(order_id: string, over: Partial<PaymentOrder> = {}): PaymentOrder {
  return {
    order_id,
    status: 'CREATED',
    status_group: 'IN_PROGRESS',
    amount: '100.00',
    currency: 'KRW',
    payer_wallet_id: 'payer',
    payee_wallet_id: 'payee',
    event_time: at(0),
    updated_at: null,
    source_version: null,
    ...over,
  };
}

let offsetCounter = 0;
export function dlqMeta(
  source: WriteSource = 'consumer',
  topic = 'test.topic',
): Omit<DlqInsert, 'reason' | 'error_detail'> {
  offsetCounter += 1;
  return {
    source,
    profile_id: 'canonical-v1',
    topic,
    partition: 0,
    offset: String(Date.now() * 1000 + offsetCounter),
    message_key: null,
    headers: null,
    raw_value: null,
  };
}

/** applyBatch of entries and orders through the consumer path, with fresh DLQ meta per row. */
export function apply(
  pool: pg.Pool,
  rows: { entries?: LedgerEntry[]; orders?: PaymentOrder[] },
  source: WriteSource = 'consumer',
  topic = 'test.topic',
): ReturnType<typeof applyBatch> {
  const input: BatchInput = {
    source,
    dlq: [],
    entries: (rows.entries ?? []).map((row) => ({ row, dlq: dlqMeta(source, topic) })),
    orders: (rows.orders ?? []).map((row) => ({ row, dlq: dlqMeta(source, topic) })),
  };
  return applyBatch(pool, input);
}

export interface StoredEntry extends LedgerEntry {
  ingested_at: Date;
  source: string;
  xmin: string;
}

export async function readEntry(pool: pg.Pool, tx_id: string): Promise<StoredEntry | undefined> {
  const res = await pool.query<StoredEntry>(
    `SELECT *, xmin::text AS xmin FROM bo.ledger_entries WHERE tx_id = $1`,
    [tx_id],
  );
  return res.rows[0];
}

export async function readOrder(
  pool: pg.Pool,
  order_id: string,
): Promise<(PaymentOrder & { ingested_at: Date; xmin: string }) | undefined> {
  const res = await pool.query(`SELECT *, xmin::text AS xmin FROM bo.payment_orders WHERE order_id = $1`, [
    order_id,
  ]);
  return res.rows[0];
}

export interface StoredPair {
  related_id: string;
  payment_tx_id: string | null;
  receive_tx_id: string | null;
  pairing_status: string;
  first_seen_at: Date;
  completed_at: Date | null;
  conflict_count: number;
  conflict_tx_ids: string[];
  xmin: string;
}

export async function readPair(pool: pg.Pool, related_id: string): Promise<StoredPair | undefined> {
  const res = await pool.query<StoredPair>(
    `SELECT *, xmin::text AS xmin FROM bo.payment_ledger_pairs WHERE related_id = $1`,
    [related_id],
  );
  return res.rows[0];
}

/** Business state of every ledger/order/pair row under a prefix, in a stable text form for comparisons. */
export async function snapshot(
  pool: pg.Pool,
  prefix: string,
): Promise<{ entries: string[]; orders: string[]; pairs: string[] }> {
  const like = `${prefix}%`;
  const entries = await pool.query<{ r: string }>(
    `SELECT concat_ws('|', tx_id, wallet_id, entry_type, amount, currency, related_id, related_type,
                      event_time, updated_at, source_version) AS r
     FROM bo.ledger_entries WHERE tx_id LIKE $1 ORDER BY tx_id`,
    [like],
  );
  const orders = await pool.query<{ r: string }>(
    `SELECT concat_ws('|', order_id, status, status_group, amount, currency, payer_wallet_id, payee_wallet_id,
                      event_time, updated_at, source_version) AS r
     FROM bo.payment_orders WHERE order_id LIKE $1 ORDER BY order_id`,
    [like],
  );
  const pairs = await pool.query<{ r: string }>(
    `SELECT concat_ws('|', related_id, payment_tx_id, receive_tx_id, pairing_status, conflict_count, conflict_tx_ids::text) AS r
     FROM bo.payment_ledger_pairs WHERE related_id LIKE $1 ORDER BY related_id`,
    [like],
  );
  return {
    entries: entries.rows.map((x) => x.r),
    orders: orders.rows.map((x) => x.r),
    pairs: pairs.rows.map((x) => x.r),
  };
}

/**
 * One backfill chunk on its own session: COPY the rows (arrival_seq = firstSeq + position) and merge both kinds
 * in one transaction. Checks that merged rows leave the staging tables.
 */
export async function stageAndMerge(
  pool: pg.Pool,
  entries: LedgerEntry[],
  orders: PaymentOrder[],
  firstSeq = 1,
): Promise<{ ledger: MergeSummary; orders: MergeSummary }> {
  const client = await pool.connect();
  try {
    await createStagingTables(client);
    await client.query('BEGIN');
    await pipeline(
      Readable.from(entries.map((e, i) => toLedgerCopyLine(e, firstSeq + i))),
      client.query(copyFrom(stagingCopySql('ledger'))),
    );
    await pipeline(
      Readable.from(orders.map((o, i) => toOrderCopyLine(o, firstSeq + i))),
      client.query(copyFrom(stagingCopySql('order'))),
    );
    const ledger = await mergeStagedLedger(client, 'backfill');
    const ords = await mergeStagedOrders(client, 'backfill');
    await client.query('COMMIT');
    const left = await client.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM pg_temp.stage_ledger)::int + (SELECT count(*) FROM pg_temp.stage_orders)::int AS n`,
    );
    if (left.rows[0]!.n !== 0) throw new Error('merged rows must leave the staging tables');
    return { ledger, orders: ords };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

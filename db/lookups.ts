// Read queries of the Admin API. Each lookup is ONE statement (one round trip): the entry's order status
// and pair come from LEFT JOINs, an order's entries and pair from json aggregation. Statements are named,
// so each pooled connection prepares them once. Amounts are selected as text (exact, as stored). Entries by
// tx_id are fetched many at a time: the API coalesces concurrent lookups into one statement (core/coalesce.ts).
import type pg from 'pg';
import { arrayLiteral } from './array-literal';
import { query, type QueryRunner } from './pool';

/** A ledger entry with what the API derives from its order and pair (null when there is none). */
export interface LedgerEntryRow {
  tx_id: string;
  wallet_id: string;
  entry_type: string;
  amount: string;
  currency: string | null;
  related_id: string | null;
  related_type: string;
  event_time: Date;
  updated_at: Date | null;
  source_version: number | string | null;
  ingested_at: Date;
  order_status: string | null;
  order_status_group: string | null;
  pair_status: string | null;
  pair_payment_tx_id: string | null;
  pair_receive_tx_id: string | null;
}

export interface PairRow {
  related_id: string;
  payment_tx_id: string | null;
  receive_tx_id: string | null;
  pairing_status: string;
  first_seen_at: Date;
  completed_at: Date | null;
  conflict_count: number;
  conflict_tx_ids: string[];
}

export interface PaymentOrderRow {
  order_id: string;
  status: string;
  status_group: string;
  amount: string;
  currency: string | null;
  payer_wallet_id: string | null;
  payee_wallet_id: string | null;
  event_time: Date;
  updated_at: Date | null;
  source_version: number | string | null;
  ingested_at: Date;
  /** Entries with related_type 'PAYMENT_ORDER' and related_id = order_id, ordered by (event_time, tx_id). */
  entries: LedgerEntryRow[];
  pair: PairRow | null;
}

const ENTRY_COLUMNS = `
  e.tx_id, e.wallet_id, e.entry_type, e.amount::text AS amount, e.currency, e.related_id, e.related_type,
  e.event_time, e.updated_at, e.source_version, e.ingested_at,
  o.status AS order_status, o.status_group AS order_status_group,
  p.pairing_status AS pair_status, p.payment_tx_id AS pair_payment_tx_id, p.receive_tx_id AS pair_receive_tx_id`;

// Orders only relate to entries that point at them as a PAYMENT_ORDER; pairs only to pairable entries.
const ENTRY_JOINS = `
  LEFT JOIN bo.payment_orders o
         ON e.related_type = 'PAYMENT_ORDER' AND o.order_id = e.related_id
  LEFT JOIN bo.payment_ledger_pairs p
         ON e.related_type = 'PAYMENT_ORDER' AND e.entry_type IN ('PAYMENT', 'RECEIVE') AND p.related_id = e.related_id`;

/** The single-entry lookup: the statement bench:api gives pgbench and its bare handler (the API batches, below). */
export const LEDGER_ENTRY_BY_TX_ID_SQL = `SELECT ${ENTRY_COLUMNS}
FROM bo.ledger_entries e ${ENTRY_JOINS}
WHERE e.tx_id = $1`;

/** Many entries by tx_id in ONE statement (the Admin API's coalesced lookups); absent ids are not in the map. */
export const LEDGER_ENTRIES_BY_TX_IDS_SQL = `SELECT ${ENTRY_COLUMNS}
FROM bo.ledger_entries e ${ENTRY_JOINS}
WHERE e.tx_id = ANY($1::text[])`;

export async function getLedgerEntries(
  db: QueryRunner,
  txIds: readonly string[],
): Promise<Map<string, LedgerEntryRow>> {
  const res = await query<LedgerEntryRow>(
    db,
    'api_tx_get',
    { name: 'bo_api_tx_get_many', text: LEDGER_ENTRIES_BY_TX_IDS_SQL },
    [arrayLiteral(txIds)],
  );
  return new Map(res.rows.map((row) => [row.tx_id, row]));
}

// Timestamps inside json come back as ISO strings; amounts and versions travel as text to stay exact.
const PAYMENT_ORDER_SQL = `
SELECT o.order_id, o.status, o.status_group, o.amount::text AS amount, o.currency,
       o.payer_wallet_id, o.payee_wallet_id, o.event_time, o.updated_at, o.source_version, o.ingested_at,
       (SELECT json_build_object(
                 'related_id', p.related_id, 'payment_tx_id', p.payment_tx_id, 'receive_tx_id', p.receive_tx_id,
                 'pairing_status', p.pairing_status, 'first_seen_at', p.first_seen_at,
                 'completed_at', p.completed_at, 'conflict_count', p.conflict_count,
                 'conflict_tx_ids', p.conflict_tx_ids)
          FROM bo.payment_ledger_pairs p WHERE p.related_id = o.order_id) AS pair,
       (SELECT coalesce(json_agg(json_build_object(
                 'tx_id', e.tx_id, 'wallet_id', e.wallet_id, 'entry_type', e.entry_type,
                 'amount', e.amount::text, 'currency', e.currency, 'related_id', e.related_id,
                 'related_type', e.related_type, 'event_time', e.event_time, 'updated_at', e.updated_at,
                 'source_version', e.source_version::text, 'ingested_at', e.ingested_at)
                 ORDER BY e.event_time, e.tx_id), '[]'::json)
          FROM bo.ledger_entries e
         WHERE e.related_id = o.order_id AND e.related_type = 'PAYMENT_ORDER') AS entries
FROM bo.payment_orders o
WHERE o.order_id = $1`;

interface JsonEntry {
  tx_id: string;
  wallet_id: string;
  entry_type: string;
  amount: string;
  currency: string | null;
  related_id: string | null;
  related_type: string;
  event_time: string;
  updated_at: string | null;
  source_version: string | null;
  ingested_at: string;
}

interface JsonPair {
  related_id: string;
  payment_tx_id: string | null;
  receive_tx_id: string | null;
  pairing_status: string;
  first_seen_at: string;
  completed_at: string | null;
  conflict_count: number;
  conflict_tx_ids: string[] | null;
}

type OrderQueryRow = Omit<PaymentOrderRow, 'entries' | 'pair'> & {
  entries: JsonEntry[];
  pair: JsonPair | null;
};

const dateOrNull = (s: string | null): Date | null => (s === null ? null : new Date(s));

export async function getPaymentOrder(db: QueryRunner, orderId: string): Promise<PaymentOrderRow | null> {
  const res = await query<OrderQueryRow>(
    db,
    'api_order_get',
    { name: 'bo_api_order_get', text: PAYMENT_ORDER_SQL },
    [orderId],
  );
  const row = res.rows[0];
  if (!row) return null;
  const pair: PairRow | null = row.pair && {
    related_id: row.pair.related_id,
    payment_tx_id: row.pair.payment_tx_id,
    receive_tx_id: row.pair.receive_tx_id,
    pairing_status: row.pair.pairing_status,
    first_seen_at: new Date(row.pair.first_seen_at),
    completed_at: dateOrNull(row.pair.completed_at),
    conflict_count: row.pair.conflict_count,
    conflict_tx_ids: row.pair.conflict_tx_ids ?? [],
  };
  const entries: LedgerEntryRow[] = row.entries.map((e) => ({
    ...e,
    event_time: new Date(e.event_time),
    updated_at: dateOrNull(e.updated_at),
    ingested_at: new Date(e.ingested_at),
    order_status: row.status,
    order_status_group: row.status_group,
    pair_status:
      pair && (e.entry_type === 'PAYMENT' || e.entry_type === 'RECEIVE') ? pair.pairing_status : null,
    pair_payment_tx_id: pair?.payment_tx_id ?? null,
    pair_receive_tx_id: pair?.receive_tx_id ?? null,
  }));
  return { ...row, entries, pair };
}

export interface WalletListQuery {
  walletId: string;
  /** Rows to fetch (the API asks for limit + 1 to learn whether a next page exists). */
  fetch: number;
  /** Keyset position: rows strictly after it in (event_time desc, tx_id desc) order. */
  after?: { eventTime: string; txId: string };
  /** RFC 3339, inclusive. */
  from?: string;
  /** RFC 3339, exclusive. */
  to?: string;
  entryType?: string;
}

export interface WalletEntryRow extends LedgerEntryRow {
  /** event_time in UTC with microseconds, for the next cursor. */
  cursor_time: string;
}

/**
 * A page of a wallet's entries, newest first. The statement text only contains the filters in use (one
 * prepared statement per combination), so each variant gets a plan that walks the
 * (wallet_id, event_time desc, tx_id desc) index from the keyset position.
 */
export async function listWalletEntries(db: QueryRunner, q: WalletListQuery): Promise<WalletEntryRow[]> {
  const values: unknown[] = [q.walletId];
  const where = ['e.wallet_id = $1'];
  let variant = 0;
  if (q.after) {
    values.push(q.after.eventTime, q.after.txId);
    where.push(`(e.event_time, e.tx_id) < ($${values.length - 1}::timestamptz, $${values.length}::text)`);
    variant |= 1;
  }
  if (q.from !== undefined) {
    values.push(q.from);
    where.push(`e.event_time >= $${values.length}::timestamptz`);
    variant |= 2;
  }
  if (q.to !== undefined) {
    values.push(q.to);
    where.push(`e.event_time < $${values.length}::timestamptz`);
    variant |= 4;
  }
  if (q.entryType !== undefined) {
    values.push(q.entryType);
    where.push(`e.entry_type = $${values.length}`);
    variant |= 8;
  }
  values.push(q.fetch);
  const text = `SELECT ${ENTRY_COLUMNS},
  to_char(e.event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_time
FROM bo.ledger_entries e ${ENTRY_JOINS}
WHERE ${where.join(' AND ')}
ORDER BY e.event_time DESC, e.tx_id DESC
LIMIT $${values.length}`;
  const res = await query<WalletEntryRow>(
    db,
    'api_wallet_list',
    { name: `bo_api_wallet_list_${variant}`, text },
    values,
  );
  return res.rows;
}

/** Readiness probe: the DB answers. */
export async function pingDatabase(db: pg.Pool): Promise<void> {
  await query(db, 'api_ready', 'SELECT 1');
}

// The data layer every writer goes through (consumer, backfill, DLQ replay): last-writer-wins upserts of
// ledger entries and payment orders, payment pairing, and dead letters. The SQL lives once, in merge-sql.ts;
// this file feeds it (parameter arrays for a batch, a COPY-filled staging table for the backfill), isolates
// rows the database refuses (validation first, SAVEPOINT bisection as the backstop) and classifies failures.
// Every path ends in exactly the state of applying its rows one by one in arrival order, whatever the batching
// (see merge-sql.ts); bisection halves and staged ranges are contiguous and merged in order, so that holds for
// them too, and a later chunk is simply a later arrival.
//
// Metrics: this layer records db_query_latency_seconds / db_queries_total (op = apply_batch, merge_ledger, merge_orders,
// merge_staged_ledger, merge_staged_orders, insert_dlq). It RETURNS pairing and version-missing counts instead
// of recording pairing_outcomes_total / consumer_version_missing_total, so each caller labels them by its source.
import type pg from 'pg';
import type { DlqReason, LedgerEntry, PaymentOrder } from '../contract';
import { charLength, formatTimestamp } from '../contract/values';
import { arrayElement } from './array-literal';
import { TransientDbError, RowRejectedError, asTransient, classifyPgError, pgErrorCode } from './errors';
import {
  LEDGER_SPEC,
  ORDER_SPEC,
  batchSql,
  dlqInsertSql,
  mergeSql,
  stagingColumns,
  stagingDdl,
  stagingSource,
  unnestSource,
  type KindSpec,
} from './merge-sql';
import { timed } from './pool';

export type WriteSource = 'consumer' | 'backfill' | 'replay';
/**
 * Per input row. A call writes each key at most once, its net result: the version carrying that write reports
 * 'inserted' / 'updated'; every other version is 'unchanged' when identical to the key's final row (a
 * redelivery), else 'stale' (older than the stored row, or superseded inside the same call); 'rejected' when the
 * database refused it.
 */
export type RowOutcome = 'inserted' | 'updated' | 'stale' | 'unchanged' | 'rejected';
/** index into the input array -> becomes a DB_REJECTED DLQ row */
export interface RejectedRow {
  index: number;
  detail: string;
}
/**
 * Pair transitions caused by one call. opened: pair rows created (a pair whose both sides arrive in one
 * batch counts as opened AND completed); completed: pairs that became COMPLETE; conflicts: tx_ids newly
 * recorded in conflict_tx_ids; unpairable: inserted/updated entries that cannot pair (no related_id,
 * related_type <> PAYMENT_ORDER, or a type other than PAYMENT/RECEIVE). Replays count nothing.
 */
export interface PairingSummary {
  opened: number;
  completed: number;
  conflicts: number;
  unpairable: number;
}
export interface ApplyResult {
  outcomes: RowOutcome[];
  rejected: RejectedRow[];
  pairing: PairingSummary;
  /** Accepted input rows with neither updated_at nor source_version (LWW falls back to arrival order). */
  versionMissing: number;
}
export interface DlqInsert {
  source: WriteSource;
  profile_id: string;
  topic: string | null;
  partition: number | null;
  offset: string | null;
  message_key: Buffer | null;
  headers: Record<string, string> | null;
  raw_value: Buffer | null;
  reason: DlqReason;
  error_detail: string;
  dump_file?: string | null;
  dump_line?: number | null;
}
export interface BatchInput {
  entries: { row: LedgerEntry; dlq: Omit<DlqInsert, 'reason' | 'error_detail'> }[];
  orders: { row: PaymentOrder; dlq: Omit<DlqInsert, 'reason' | 'error_detail'> }[];
  dlq: DlqInsert[];
  source: WriteSource;
}
export interface BatchResult {
  ledger: ApplyResult;
  orders: ApplyResult;
  dlqInserted: number;
  committedAt: Date;
}
/** A staged row the database refused, by its staging arrival_seq (e.g. the dump line). */
export interface StagedRejectedRow {
  arrivalSeq: number;
  detail: string;
}
export interface MergeSummary {
  inserted: number;
  updated: number;
  stale: number;
  unchanged: number;
  rejected: StagedRejectedRow[];
  pairing: PairingSummary;
  versionMissing: number;
}

// ---------------------------------------------------------------------------------------------------
// Validation before the write: the checks mirror the CHECK constraints of migration 0001 and what text /
// timestamp / bigint inputs PostgreSQL refuses, so a bad row is reported with a readable reason without a
// failed statement. Anything they miss is caught by SAVEPOINT bisection.

const DECIMAL_TEXT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const LENGTH_LIMITS: Record<string, readonly [number, number, string]> = {
  tx_id: [1, 128, 'ledger_entries_tx_id_len'],
  wallet_id: [1, 128, 'ledger_entries_wallet_id_len'],
  related_id: [1, 512, 'ledger_entries_related_id_len'],
  order_id: [1, 128, 'payment_orders_order_id_len'],
  payer_wallet_id: [1, 128, 'payment_orders_payer_len'],
  payee_wallet_id: [1, 128, 'payment_orders_payee_len'],
};
const STATUS_GROUPS = new Set(['IN_PROGRESS', 'SUCCESS', 'FAILED', 'CANCELLED', 'REFUNDED', 'UNKNOWN']);
const REQUIRED: Record<KindSpec['kind'], readonly string[]> = {
  ledger: ['tx_id', 'wallet_id', 'entry_type', 'amount', 'related_type', 'event_time'],
  order: ['order_id', 'status', 'status_group', 'amount', 'event_time'],
};

// One check per column with its own generated field read (see FIELD_READS below for why).
interface ColumnCheck {
  name: string;
  pgType: KindSpec['columns'][number]['pgType'];
  read: (row: object) => unknown;
  required: boolean;
  limit: readonly [number, number, string] | undefined;
}
function columnChecks(spec: KindSpec): ColumnCheck[] {
  return spec.columns.map((c, i) => ({
    name: c.name,
    pgType: c.pgType,
    read: FIELD_READS[spec.kind][i]!,
    required: REQUIRED[spec.kind].includes(c.name),
    limit: LENGTH_LIMITS[c.name],
  }));
}

function checkRow(spec: KindSpec, row: object): string | null {
  const r = row as Record<string, unknown>;
  const checks = COLUMN_CHECKS[spec.kind];
  for (const c of checks) {
    if (!c.required) continue;
    const v = c.read(row);
    if (v === null || v === undefined) return `${c.name}: required`;
  }
  for (const { name, pgType, read, limit } of checks) {
    const v = read(row);
    if (v === null || v === undefined) continue;
    if (pgType === 'text' || pgType === 'numeric') {
      if (typeof v !== 'string') return `${name}: expected a string, got ${typeof v}`;
      if (v.includes('\u0000')) return `${name}: contains a NUL character (PostgreSQL text cannot store it)`;
      // The constraints count characters (code points); .length is only an upper bound of that.
      if (limit && (v.length < limit[0] || (v.length > limit[1] && charLength(v) > limit[1]))) {
        return `${name}: length ${charLength(v)} outside ${limit[0]}..${limit[1]} (constraint ${limit[2]})`;
      }
    } else if (pgType === 'timestamptz') {
      if (!(v instanceof Date) || Number.isNaN(v.getTime())) return `${name}: not a valid timestamp`;
    } else if (pgType === 'bigint') {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
        return `${name}: ${String(v)} is not a non-negative integer (constraint ${spec.kind === 'ledger' ? 'ledger_entries' : 'payment_orders'}_source_version_nonneg)`;
      }
    }
  }
  if (!DECIMAL_TEXT.test(r.amount as string))
    return `amount: ${JSON.stringify(r.amount)} is not a finite decimal`;
  if (spec.kind === 'order' && !STATUS_GROUPS.has(r.status_group as string)) {
    return `status_group: ${JSON.stringify(r.status_group)} is not a status group (constraint payment_orders_status_group)`;
  }
  return null;
}

/** Why the DB would refuse this entry, or null when it is writable. */
export function checkLedgerEntry(row: LedgerEntry): string | null {
  return checkRow(LEDGER_SPEC, row);
}
/** Why the DB would refuse this order, or null when it is writable. */
export function checkPaymentOrder(row: PaymentOrder): string | null {
  return checkRow(ORDER_SPEC, row);
}

// Every staged value is text (see merge-sql.ts); Dates go as ISO-8601 UTC.
function textValue(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return formatTimestamp(v);
  return String(v);
}

// Field reads generated from spec.columns (the one column list), one property access per column: a single
// `row[name]` site that sees every column name goes megamorphic, which cost more than the rest of the encoding.
function plainColumnName(name: string): string {
  if (!/^[a-z_]+$/.test(name)) throw new Error(`column name ${name} is not a plain identifier`);
  return name;
}
type FieldRead = (row: object) => unknown;
function fieldReads(spec: KindSpec): FieldRead[] {
  return spec.columns.map(
    (c) => new Function(`return (row) => row.${plainColumnName(c.name)};`)() as FieldRead,
  );
}
const FIELD_READS = { ledger: fieldReads(LEDGER_SPEC), order: fieldReads(ORDER_SPEC) } as const;
/** Per column, the staged text of a row's value (parameter arrays of applyBatch). */
const COLUMN_READERS = {
  ledger: FIELD_READS.ledger.map((read) => (row: object) => textValue(read(row))),
  order: FIELD_READS.order.map((read) => (row: object) => textValue(read(row))),
} as const;
const COLUMN_CHECKS = { ledger: columnChecks(LEDGER_SPEC), order: columnChecks(ORDER_SPEC) } as const;

function pgErrorDetail(err: unknown): string {
  const e = err as { code?: string; message?: string; constraint?: string; detail?: string };
  const parts = [e.code ? `${e.code} ${e.message ?? ''}` : String(e.message ?? err)];
  if (e.constraint) parts.push(`constraint ${e.constraint}`);
  if (e.detail) parts.push(e.detail.slice(0, 200));
  return parts.join('; ');
}

// ---------------------------------------------------------------------------------------------------
// Savepoints: a deterministic failure rolls back only the attempted rows; the caller's transaction lives on.

const SAVEPOINT = 'bo_apply_merge';

type Attempt<T> = { ok: true; value: T } | { ok: false; err: unknown };

async function attempt<T>(client: pg.ClientBase, fn: () => Promise<T>): Promise<Attempt<T>> {
  try {
    await client.query(`SAVEPOINT ${SAVEPOINT}`);
  } catch (err) {
    if (pgErrorCode(err) === '25P01') {
      throw new Error('the data layer must run inside a transaction: call BEGIN on the client first', {
        cause: err,
      });
    }
    throw asTransient(err, 'savepoint');
  }
  try {
    const value = await fn();
    await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
    return { ok: true, value };
  } catch (err) {
    if (classifyPgError(err) === 'transient') throw asTransient(err, 'merge');
    try {
      await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
      await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
    } catch (rollbackErr) {
      throw asTransient(rollbackErr, 'rollback to savepoint');
    }
    return { ok: false, err };
  }
}

// ---------------------------------------------------------------------------------------------------
// Per-batch path: the rows go in as one text[] parameter per column, unnest()ed into the merge statement.

interface MergeRowsResult {
  outcomes: RowOutcome[];
  opened: number;
  completed: number;
  conflicts: number;
  unpairable: number;
  version_missing: number;
}

// Per-batch statements are named prepared statements: after five executions PostgreSQL keeps a generic plan
// and skips planning (~1-2 ms of a ~10 ms batch). A generic plan estimates unnest($n) at 10 rows, and a nested
// loop between two CTEs would then be quadratic in the batch size: the statements are shaped so the planner
// hashes those joins, and tests/integration/db/plans.test.ts fails if any variant's generic plan has a nested loop.
const statements = new Map<string, pg.QueryConfig>();
function statement(key: string, build: () => string): pg.QueryConfig {
  let config = statements.get(key);
  if (config === undefined) {
    config = { name: `bo_${key.replace(/[^a-z0-9]+/g, '_')}_v1`, text: build() };
    statements.set(key, config);
  }
  return config;
}

/** Validation of every row: the writable indexes, and outcomes/rejections for the others. */
interface Partition {
  valid: number[];
  outcomes: RowOutcome[];
  rejected: RejectedRow[];
}
function partition(spec: KindSpec, rows: readonly object[]): Partition {
  const out: Partition = { valid: [], outcomes: new Array<RowOutcome>(rows.length), rejected: [] };
  rows.forEach((row, index) => {
    const detail = checkRow(spec, row);
    if (detail === null) out.valid.push(index);
    else {
      out.outcomes[index] = 'rejected';
      out.rejected.push({ index, detail });
    }
  });
  return out;
}

// The parameter arrays go out as PostgreSQL array literals (db/array-literal.ts). Only text columns can hold a
// quote or a backslash (the rows passed checkRow, so numeric, bigint and timestamp text is plain, as for COPY).
/** A text[] literal of one column's staged values for the rows at `indexes`. */
export function columnArrayLiteral(
  read: (row: object) => string | null,
  text: boolean,
  rows: readonly object[],
  indexes: readonly number[],
): string {
  let out = '{';
  for (let k = 0; k < indexes.length; k++) {
    if (k > 0) out += ',';
    out += arrayElement(read(rows[indexes[k]!]!), text);
  }
  return `${out}}`;
}

/** unnestSource parameters: arrival_seq (= input index) then one text[] per column. */
function rowArrays(spec: KindSpec, rows: readonly object[], indexes: readonly number[]): unknown[] {
  const values: unknown[] = [`{${indexes.join(',')}}`];
  COLUMN_READERS[spec.kind].forEach((read, c) =>
    values.push(columnArrayLiteral(read, spec.columns[c]!.pgType === 'text', rows, indexes)),
  );
  return values;
}

/** Fold one merge result row into the outcomes of `indexes`. */
function absorb(
  result: ApplyResult,
  indexes: readonly number[],
  r: MergeRowsResult | null | undefined,
): void {
  if (!r || r.outcomes?.length !== indexes.length) {
    throw new Error(`merge returned ${r?.outcomes?.length ?? 0} outcomes for ${indexes.length} rows`);
  }
  indexes.forEach((index, k) => (result.outcomes[index] = r.outcomes[k]!));
  result.pairing.opened += r.opened;
  result.pairing.completed += r.completed;
  result.pairing.conflicts += r.conflicts;
  result.pairing.unpairable += r.unpairable;
  result.versionMissing += r.version_missing;
}

function startResult(p: Partition): ApplyResult {
  return {
    outcomes: p.outcomes,
    rejected: p.rejected,
    pairing: { opened: 0, completed: 0, conflicts: 0, unpairable: 0 },
    versionMissing: 0,
  };
}

async function applyRows(
  client: pg.ClientBase,
  spec: KindSpec,
  rows: readonly object[],
  source: WriteSource,
): Promise<ApplyResult> {
  const parts = partition(spec, rows);
  const result = startResult(parts);
  const merge = statement(`merge ${spec.kind} ${source}`, () =>
    mergeSql(spec, source, unnestSource(spec), 'rows'),
  );
  const op = spec.kind === 'ledger' ? 'merge_ledger' : 'merge_orders';
  const run = (indexes: readonly number[]) =>
    timed(op, () => client.query<MergeRowsResult>({ ...merge, values: rowArrays(spec, rows, indexes) }));

  // Bisect a chunk the DB refuses until the refused rows are isolated; contiguous halves keep arrival order.
  const mergeChunk = async (indexes: readonly number[]): Promise<void> => {
    if (indexes.length === 0) return;
    const attempted = await attempt(client, () => run(indexes));
    if (attempted.ok) return absorb(result, indexes, attempted.value.rows[0]);
    if (classifyPgError(attempted.err) !== 'deterministic') throw attempted.err;
    if (indexes.length === 1) {
      result.outcomes[indexes[0]!] = 'rejected';
      result.rejected.push({ index: indexes[0]!, detail: pgErrorDetail(attempted.err) });
      return;
    }
    const mid = Math.ceil(indexes.length / 2);
    await mergeChunk(indexes.slice(0, mid));
    await mergeChunk(indexes.slice(mid));
  };
  await mergeChunk(parts.valid);

  result.rejected.sort((x, y) => x.index - y.index);
  return result;
}

/** LWW-upsert entries and maintain their pairs, on a client inside the caller's transaction (BEGIN done). */
export async function applyLedgerEntries(
  client: pg.ClientBase,
  rows: LedgerEntry[],
  source: WriteSource,
): Promise<ApplyResult> {
  return applyRows(client, LEDGER_SPEC, rows, source);
}

/** LWW-upsert payment orders, on a client inside the caller's transaction (BEGIN done). */
export async function applyPaymentOrders(
  client: pg.ClientBase,
  rows: PaymentOrder[],
  source: WriteSource,
): Promise<ApplyResult> {
  return applyRows(client, ORDER_SPEC, rows, source);
}

// ---------------------------------------------------------------------------------------------------
// Dead letters.

const DLQ_REASONS = new Set<DlqReason>([
  'INVALID_JSON',
  'SCHEMA_VIOLATION',
  'UNMAPPED_TOPIC',
  'UNKNOWN_EVENT_TYPE',
  'DB_REJECTED',
]);
const WRITE_SOURCES = new Set<WriteSource>(['consumer', 'backfill', 'replay']);
const MAX_ERROR_DETAIL = 4000;

// A dead letter must always be storable: text and jsonb cannot hold NUL, so it is replaced (the raw bytes
// stay exact in bytea).
function storable(s: string): string {
  return s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s;
}

function checkDlq(row: DlqInsert, i: number): void {
  const where = `DLQ row ${i}`;
  if (!WRITE_SOURCES.has(row.source))
    throw new Error(`${where}: unknown source ${JSON.stringify(row.source)}`);
  if (!DLQ_REASONS.has(row.reason)) throw new Error(`${where}: unknown reason ${JSON.stringify(row.reason)}`);
  if (row.offset !== null && !/^\d{1,19}$/.test(row.offset)) {
    throw new Error(`${where}: offset ${JSON.stringify(row.offset)} is not a Kafka offset`);
  }
  if (
    row.partition !== null &&
    !(Number.isInteger(row.partition) && row.partition >= 0 && row.partition < 2 ** 31)
  ) {
    throw new Error(`${where}: partition ${String(row.partition)} is not a partition number`);
  }
  if (row.dump_line != null && !(Number.isSafeInteger(row.dump_line) && row.dump_line >= 0)) {
    throw new Error(`${where}: dump_line ${String(row.dump_line)} is not a line number`);
  }
  if (!row.profile_id) throw new Error(`${where}: profile_id is required`);
}

/** dlqInsertSql parameters (validated: a malformed row throws before anything is written). */
function dlqArrays(rows: readonly DlqInsert[]): unknown[] {
  rows.forEach(checkDlq);
  const col = <T>(f: (r: DlqInsert) => T) => rows.map(f);
  return [
    col((r) => r.source),
    col((r) => storable(r.profile_id)),
    col((r) => (r.topic === null ? null : storable(r.topic))),
    col((r) => r.partition),
    col((r) => r.offset),
    col((r) => r.message_key),
    col((r) =>
      r.headers === null
        ? null
        : JSON.stringify(
            Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [storable(k), storable(String(v))])),
          ),
    ),
    col((r) => r.raw_value),
    col((r) => r.reason),
    col((r) =>
      storable(
        r.error_detail.length > MAX_ERROR_DETAIL
          ? `${r.error_detail.slice(0, MAX_ERROR_DETAIL - 1)}…`
          : r.error_detail,
      ),
    ),
    col((r) => (r.dump_file == null ? null : storable(r.dump_file))),
    col((r) => r.dump_line ?? null),
  ];
}

/** Insert dead letters; a re-delivered consumer message or a re-run dump line is not duplicated. Returns rows inserted. */
export async function insertDlqEvents(client: pg.ClientBase, rows: DlqInsert[]): Promise<number> {
  if (rows.length === 0) return 0;
  const values = dlqArrays(rows);
  const insert = statement('insert dlq', () => dlqInsertSql());
  const res = await timed('insert_dlq', () => client.query({ ...insert, values }));
  return res.rowCount ?? 0;
}

// ---------------------------------------------------------------------------------------------------
// One batch, one atomic write.

/**
 * Apply entries + orders + DLQ rows (DB_REJECTED rows become DLQ rows with their message meta) atomically.
 * Retries nothing; transient failures are thrown as TransientDbError (nothing was committed).
 *
 * Fast path: the whole batch is ONE statement (batchSql), which is atomic without BEGIN/COMMIT — one round
 * trip per batch. Rows failing validation are dead-lettered in that same statement. If PostgreSQL refuses
 * a row the validation did not foresee, nothing was written; the batch is re-run in a transaction with
 * SAVEPOINT bisection (applyLedgerEntries / applyPaymentOrders) so only the refused rows are dead-lettered.
 */
export async function applyBatch(pool: pg.Pool, input: BatchInput): Promise<BatchResult> {
  try {
    return await applyBatchOneStatement(pool, input);
  } catch (err) {
    if (err instanceof TransientDbError || classifyPgError(err) !== 'deterministic') throw err;
    return applyBatchIsolated(pool, input);
  }
}

function rejectedDlq(
  source: readonly { dlq: Omit<DlqInsert, 'reason' | 'error_detail'> }[],
  rejected: readonly RejectedRow[],
): DlqInsert[] {
  return rejected.map((r) => ({
    ...source[r.index]!.dlq,
    reason: 'DB_REJECTED' as const,
    error_detail: r.detail,
  }));
}

interface BatchStatementResult {
  ledger: MergeRowsResult | null;
  orders: MergeRowsResult | null;
  dlq_inserted: number;
}

async function applyBatchOneStatement(pool: pg.Pool, input: BatchInput): Promise<BatchResult> {
  const entryRows = input.entries.map((e) => e.row);
  const orderRows = input.orders.map((o) => o.row);
  const ledgerParts = partition(LEDGER_SPEC, entryRows);
  const orderParts = partition(ORDER_SPEC, orderRows);
  const ledger = startResult(ledgerParts);
  const orders = startResult(orderParts);
  const dlq = [
    ...input.dlq,
    ...rejectedDlq(input.entries, ledger.rejected),
    ...rejectedDlq(input.orders, orders.rejected),
  ];
  const has = {
    ledger: ledgerParts.valid.length > 0,
    orders: orderParts.valid.length > 0,
    dlq: dlq.length > 0,
  };
  if (!has.ledger && !has.orders && !has.dlq)
    return { ledger, orders, dlqInserted: 0, committedAt: new Date() };

  const values: unknown[] = [];
  if (has.ledger) values.push(...rowArrays(LEDGER_SPEC, entryRows, ledgerParts.valid));
  if (has.orders) values.push(...rowArrays(ORDER_SPEC, orderRows, orderParts.valid));
  if (has.dlq) values.push(...dlqArrays(dlq));
  const key = `batch ${input.source} ${has.ledger ? 'l' : ''}${has.orders ? 'o' : ''}${has.dlq ? 'd' : ''}`;
  const batch = statement(key, () => batchSql(input.source, has));

  let res: pg.QueryResult<BatchStatementResult>;
  try {
    res = await timed('apply_batch', () => pool.query<BatchStatementResult>({ ...batch, values }));
  } catch (err) {
    throw asTransient(err, 'apply batch');
  }
  const row = res.rows[0]!;
  if (has.ledger) absorb(ledger, ledgerParts.valid, row.ledger);
  if (has.orders) absorb(orders, orderParts.valid, row.orders);
  return { ledger, orders, dlqInserted: row.dlq_inserted, committedAt: new Date() };
}

/** The fallback: BEGIN; per-kind merges with SAVEPOINT isolation; DLQ rows; COMMIT. */
async function applyBatchIsolated(pool: pg.Pool, input: BatchInput): Promise<BatchResult> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw new TransientDbError(`cannot get a database connection: ${(err as Error).message}`, { cause: err });
  }
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const ledger = await applyRows(
      client,
      LEDGER_SPEC,
      input.entries.map((e) => e.row),
      input.source,
    );
    const orders = await applyRows(
      client,
      ORDER_SPEC,
      input.orders.map((o) => o.row),
      input.source,
    );
    const dlq = [
      ...input.dlq,
      ...rejectedDlq(input.entries, ledger.rejected),
      ...rejectedDlq(input.orders, orders.rejected),
    ];
    const dlqInserted = await insertDlqEvents(client, dlq);
    await client.query('COMMIT');
    return { ledger, orders, dlqInserted, committedAt: new Date() };
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackErr) {
      broken = rollbackErr as Error;
    }
    const wrapped = asTransient(err, 'apply batch');
    // A connection that failed transiently may be half-dead: do not return it to the pool.
    if (wrapped instanceof TransientDbError) broken ??= wrapped;
    throw wrapped;
  } finally {
    client.release(broken);
  }
}

// ---------------------------------------------------------------------------------------------------
// Bulk path (backfill): COPY into session-private staging tables, then the same merge statement over them.

/** Create (or empty) pg_temp.stage_ledger / pg_temp.stage_orders on this session. */
export async function createStagingTables(client: pg.ClientBase): Promise<void> {
  for (const spec of [LEDGER_SPEC, ORDER_SPEC]) {
    await client.query(stagingDdl(spec));
    await client.query(`TRUNCATE ${spec.stagingTable}`);
  }
}

/** The COPY ... FROM STDIN (text format) statement for a staging table; feed it toLedgerCopyLine / toOrderCopyLine lines. */
export function stagingCopySql(kind: 'ledger' | 'order'): string {
  const spec = kind === 'ledger' ? LEDGER_SPEC : ORDER_SPEC;
  return `COPY ${spec.stagingTable} (${stagingColumns(spec).join(', ')}) FROM STDIN`;
}

// COPY text format: \N is NULL; backslash, newline, carriage return and tab are escaped.
const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
function copyField(v: string | null): string {
  if (v === null) return '\\N';
  return COPY_SPECIAL.test(v) ? v.replace(/[\\\n\r\t]/g, (c) => COPY_ESCAPES[c]!) : v;
}

// On the backfill's hot path (every dump line): one string, no intermediate arrays; field reads generated as
// for FIELD_READS. Only text columns can hold a character COPY must escape: the row passed checkRow first, so a
// numeric value is a plain decimal, a bigint a safe integer and a timestamp a valid Date (their text never
// needs escaping, and skipping the test per value is measurable at a million lines).
interface FieldEncoders {
  text: (v: unknown) => string;
  plain: (v: unknown) => string;
}
type FieldsEncoder = (row: object, enc: FieldEncoders) => string;
function fieldsEncoder(spec: KindSpec): FieldsEncoder {
  const reads = spec.columns.map(
    (c) => `enc.${c.pgType === 'text' ? 'text' : 'plain'}(row.${plainColumnName(c.name)})`,
  );
  return new Function('row', 'enc', `return ${reads.join(" + '\\t' + ")};`) as FieldsEncoder;
}
const FIELDS_ENCODER = { ledger: fieldsEncoder(LEDGER_SPEC), order: fieldsEncoder(ORDER_SPEC) } as const;
const FIELD_ENCODERS: FieldEncoders = {
  text: (v) => copyField(textValue(v)),
  plain: (v) => textValue(v) ?? '\\N',
};

function toCopyLineOf(spec: KindSpec, row: object, arrivalSeq: number): string {
  const detail = checkRow(spec, row);
  if (detail !== null) throw new RowRejectedError(detail);
  if (!Number.isSafeInteger(arrivalSeq)) throw new Error(`arrival_seq ${arrivalSeq} is not an integer`);
  return `${arrivalSeq}\t${FIELDS_ENCODER[spec.kind](row, FIELD_ENCODERS)}\n`;
}

/** One COPY text line (with newline) for stage_ledger. Throws RowRejectedError for a row the DB would refuse (send it to the DLQ as DB_REJECTED). */
export function toLedgerCopyLine(row: LedgerEntry, arrivalSeq: number): string {
  return toCopyLineOf(LEDGER_SPEC, row, arrivalSeq);
}
/** One COPY text line (with newline) for stage_orders. Throws RowRejectedError like toLedgerCopyLine. */
export function toOrderCopyLine(row: PaymentOrder, arrivalSeq: number): string {
  return toCopyLineOf(ORDER_SPEC, row, arrivalSeq);
}
/** The COPY encoders by kind. */
export const toCopyLine = { ledger: toLedgerCopyLine, order: toOrderCopyLine } as const;

interface MergeCountsResult {
  inserted: number;
  updated: number;
  unchanged: number;
  stale: number;
  opened: number;
  completed: number;
  conflicts: number;
  unpairable: number;
  version_missing: number;
}

async function mergeStaged(
  client: pg.ClientBase,
  spec: KindSpec,
  source: WriteSource,
): Promise<MergeSummary> {
  const summary: MergeSummary = {
    inserted: 0,
    updated: 0,
    stale: 0,
    unchanged: 0,
    rejected: [],
    pairing: { opened: 0, completed: 0, conflicts: 0, unpairable: 0 },
    versionMissing: 0,
  };
  const op = spec.kind === 'ledger' ? 'merge_staged_ledger' : 'merge_staged_orders';
  const run = (range?: { from: number; to: number }) =>
    timed(op, () =>
      client.query<MergeCountsResult>(mergeSql(spec, source, stagingSource(spec, range), 'counts')),
    );
  const add = (r: MergeCountsResult) => {
    summary.inserted += r.inserted;
    summary.updated += r.updated;
    summary.unchanged += r.unchanged;
    summary.stale += r.stale;
    summary.pairing.opened += r.opened;
    summary.pairing.completed += r.completed;
    summary.pairing.conflicts += r.conflicts;
    summary.pairing.unpairable += r.unpairable;
    summary.versionMissing += r.version_missing;
  };

  // No ANALYZE of the staging table: it is never analyzed, so its reltuples stays -1 (unknown) and the planner
  // estimates its rows from its current page count, which follows the staged size (1 to 1e6 rows) without
  // statistics. The plan's shape was checked the same with and without ANALYZE from 5k to 150k staged rows, and the
  // key-column ANALYZE per chunk was ~5% of PostgreSQL's backfill time (one sort of a sample of text keys).
  // The merge's CTE row estimates grow with the staged rows; past jit_above_cost PostgreSQL would spend up to
  // seconds JIT-compiling a statement that runs about a second. JIT never pays off here: off until the end of
  // the caller's transaction.
  await client.query(`SET LOCAL jit = off`);
  const whole = await attempt(client, () => run());
  if (whole.ok) {
    add(whole.value.rows[0]!);
  } else {
    if (classifyPgError(whole.err) !== 'deterministic') throw whole.err;
    // Bisect over the staged arrival_seq values; ranges are merged in ascending order (arrival order).
    const seqRes = await client.query<{ seqs: string[] | null }>(
      `SELECT array_agg(DISTINCT arrival_seq ORDER BY arrival_seq)::text[] AS seqs FROM ${spec.stagingTable}`,
    );
    const seqs = (seqRes.rows[0]?.seqs ?? []).map(Number);
    const mergeRange = async (lo: number, hi: number, knownErr?: unknown): Promise<void> => {
      const range = { from: seqs[lo]!, to: seqs[hi]! };
      const result: Attempt<pg.QueryResult<MergeCountsResult>> = knownErr
        ? { ok: false, err: knownErr }
        : await attempt(client, () => run(range));
      if (result.ok) return add(result.value.rows[0]!);
      if (classifyPgError(result.err) !== 'deterministic') throw result.err;
      if (lo === hi) {
        summary.rejected.push({ arrivalSeq: seqs[lo]!, detail: pgErrorDetail(result.err) });
        return;
      }
      const mid = lo + Math.ceil((hi - lo + 1) / 2);
      await mergeRange(lo, mid - 1);
      await mergeRange(mid, hi);
    };
    if (seqs.length > 0) await mergeRange(0, seqs.length - 1, whole.err);
  }
  await client.query(`TRUNCATE ${spec.stagingTable}`);
  return summary;
}

/**
 * Merge (and empty) pg_temp.stage_ledger with the same LWW + pairing statement; inside the caller's transaction
 * (which then runs with jit = off).
 */
export async function mergeStagedLedger(client: pg.ClientBase, source: WriteSource): Promise<MergeSummary> {
  return mergeStaged(client, LEDGER_SPEC, source);
}
/** Merge (and empty) pg_temp.stage_orders with the same LWW statement; inside the caller's transaction (jit = off). */
export async function mergeStagedOrders(client: pg.ClientBase, source: WriteSource): Promise<MergeSummary> {
  return mergeStaged(client, ORDER_SPEC, source);
}

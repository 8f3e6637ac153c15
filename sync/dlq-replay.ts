// DLQ replay core (SPEC §6 dlqReplay): re-decode dead letters with the CURRENT contract and apply the ones
// that now pass through the same data layer (source 'replay'). Each batch is one transaction that applies
// the rows AND marks every replayed DLQ row (APPLIED / STILL_FAILING / SKIPPED, replay_count + 1), so a crash
// never leaves a row applied but unmarked. Rows already APPLIED are never selected: replaying twice changes
// nothing. A dry run does the same work inside a transaction that is rolled back.
import type pg from 'pg';
import {
  PROFILES,
  decodeDumpLine,
  decodeKafkaMessage,
  getProfile,
  parseTimestamp,
  type Decoded,
  type DlqReason,
  type EventProfile,
  type LedgerEntry,
  type PaymentOrder,
} from '../contract';
import { env } from '../core/env';
import { logger } from '../core/log';
import { consumerMessagesTotal, pairingOutcomesTotal } from '../core/metrics';
import { applyLedgerEntries, applyPaymentOrders, type ApplyResult } from '../db/apply';
import { asTransient, TransientDbError } from '../db/errors';
import { getPool } from '../db/pool';

export type ReplayResult = 'APPLIED' | 'STILL_FAILING' | 'SKIPPED';

export interface DlqReplayFilter {
  topic?: string;
  reason?: DlqReason;
  /** created_at >= from */
  from?: Date;
  /** created_at < to */
  to?: Date;
  /** DLQ row ids (bigserial, as decimal strings). */
  ids?: string[];
}

export interface DlqReplayProgress {
  matched: number;
  applied: number;
  stillFailing: number;
  skipped: number;
  lastId: string | null;
}

export interface DlqReplayOptions {
  dryRun?: boolean;
  /** DLQ rows per transaction (default 500). */
  batchSize?: number;
  /** Decode EVERY row with this profile, whatever profile_id it was dead-lettered under (an operator override). */
  profile?: EventProfile;
  /**
   * The running process's profile (with its topic overrides). Without `profile`, each row is decoded with the
   * profile it was dead-lettered under: this one when the ids match, the built-in one for another known id,
   * and this one again for an id this build does not know. Default: EVENT_PROFILE_ID.
   */
  defaultProfile?: EventProfile;
  pool?: pg.Pool;
  onProgress?(p: DlqReplayProgress): void;
  signal?: AbortSignal;
}

export interface DlqReplaySummary {
  matched: number;
  applied: number;
  stillFailing: number;
  skipped: number;
  dryRun: boolean;
}

interface DlqRow {
  id: string;
  source: string;
  profile_id: string;
  topic: string | null;
  raw_value: Buffer | null;
  reason: DlqReason;
  dump_file: string | null;
}

const DLQ_REASONS: readonly DlqReason[] = [
  'INVALID_JSON',
  'SCHEMA_VIOLATION',
  'UNMAPPED_TOPIC',
  'UNKNOWN_EVENT_TYPE',
  'DB_REJECTED',
];

const MAX_BATCH_SIZE = 10_000;

/** A replay request that can never succeed as given (bad filter or option): retrying it cannot help. */
export class DlqReplayInputError extends Error {
  override name = 'DlqReplayInputError';
}

/** The replay request as ops type it (Temporal UI form, CLI): untrusted JSON, dates as strings. */
export interface DlqReplayRequest {
  topic?: unknown;
  reason?: unknown;
  from?: unknown;
  to?: unknown;
  ids?: unknown;
  dryRun?: unknown;
  batchSize?: unknown;
}

/** An optional RFC 3339 bound, parsed by the event contract's own timestamp rule. */
function timestampField(field: 'from' | 'to', value: unknown): Date | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const date = parseTimestamp(value);
  if (date === null)
    throw new DlqReplayInputError(
      `${field} must be an RFC 3339 timestamp with an offset (e.g. 2026-11-25T12:00:00Z), got ${JSON.stringify(value)}`,
    );
  return date;
}

/**
 * Validates a replay request and turns it into a filter and options, before anything touches the DB.
 * Every message names the offending field, so the failure in the Temporal UI says what to fix.
 */
export function parseDlqReplayRequest(req: DlqReplayRequest): {
  filter: DlqReplayFilter;
  dryRun: boolean;
  batchSize: number;
} {
  const filter: DlqReplayFilter = {};
  if (req.topic !== undefined && req.topic !== null) {
    if (typeof req.topic !== 'string' || req.topic === '')
      throw new DlqReplayInputError(`topic must be a non-empty string, got ${JSON.stringify(req.topic)}`);
    filter.topic = req.topic;
  }
  if (req.reason !== undefined && req.reason !== null) {
    if (!DLQ_REASONS.includes(req.reason as DlqReason))
      throw new DlqReplayInputError(
        `unknown DLQ reason ${JSON.stringify(req.reason)}; known: ${DLQ_REASONS.join(', ')}`,
      );
    filter.reason = req.reason as DlqReason;
  }
  filter.from = timestampField('from', req.from);
  filter.to = timestampField('to', req.to);
  if (filter.from && filter.to && filter.from >= filter.to)
    throw new DlqReplayInputError(
      `from (${filter.from.toISOString()}) must be before to (${filter.to.toISOString()})`,
    );
  if (req.ids !== undefined && req.ids !== null) {
    if (!Array.isArray(req.ids))
      throw new DlqReplayInputError(
        `ids must be an array of DLQ row ids (decimal strings), got ${JSON.stringify(req.ids)}`,
      );
    filter.ids = req.ids.map((id: unknown) =>
      typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? String(id) : (id as string),
    );
  }
  if (req.dryRun !== undefined && req.dryRun !== null && typeof req.dryRun !== 'boolean')
    throw new DlqReplayInputError(`dryRun must be true or false, got ${JSON.stringify(req.dryRun)}`);
  const batchSize = req.batchSize ?? 500;
  if (
    typeof batchSize !== 'number' ||
    !Number.isSafeInteger(batchSize) ||
    batchSize < 1 ||
    batchSize > MAX_BATCH_SIZE
  )
    throw new DlqReplayInputError(
      `batchSize must be an integer in 1..${MAX_BATCH_SIZE}, got ${JSON.stringify(req.batchSize)}`,
    );
  replayWhere(filter, 1); // the per-id check lives there
  return { filter, dryRun: req.dryRun === true, batchSize };
}

/** Build the WHERE clause (after the keyset and not-yet-applied conditions) for a filter. */
export function replayWhere(filter: DlqReplayFilter, firstParam: number): { sql: string; values: unknown[] } {
  const parts: string[] = [];
  const values: unknown[] = [];
  const add = (cond: (p: string) => string, value: unknown) => {
    values.push(value);
    parts.push(cond(`$${firstParam + values.length - 1}`));
  };
  if (filter.topic !== undefined) add((p) => `topic = ${p}`, filter.topic);
  if (filter.reason !== undefined) {
    if (!DLQ_REASONS.includes(filter.reason))
      throw new DlqReplayInputError(
        `unknown DLQ reason ${JSON.stringify(filter.reason)}; known: ${DLQ_REASONS.join(', ')}`,
      );
    add((p) => `reason = ${p}`, filter.reason);
  }
  for (const [field, date] of [
    ['from', filter.from],
    ['to', filter.to],
  ] as const) {
    // An Invalid Date would reach PostgreSQL as 'NaN-NaN-…' and fail there, looking like a DB problem.
    if (date !== undefined && Number.isNaN(date.getTime()))
      throw new DlqReplayInputError(`${field} is not a valid date`);
  }
  if (filter.from !== undefined) add((p) => `created_at >= ${p}`, filter.from);
  if (filter.to !== undefined) add((p) => `created_at < ${p}`, filter.to);
  if (filter.ids !== undefined) {
    const bad = filter.ids.find((id) => typeof id !== 'string' || !/^\d{1,18}$/.test(id));
    if (bad !== undefined)
      throw new DlqReplayInputError(`ids: DLQ id ${JSON.stringify(bad)} is not a row id`);
    add((p) => `id = ANY(${p}::bigint[])`, filter.ids);
  }
  return { sql: parts.length ? ` AND ${parts.join(' AND ')}` : '', values };
}

function profileFor(row: DlqRow, opts: DlqReplayOptions): EventProfile {
  if (opts.profile) return opts.profile;
  const running = opts.defaultProfile ?? getProfile(env().EVENT_PROFILE_ID);
  // The running profile carries this deployment's topic overrides, which the built-in entry does not know.
  if (row.profile_id === running.id) return running;
  if (Object.hasOwn(PROFILES, row.profile_id)) return getProfile(row.profile_id);
  return running;
}

function redecode(row: DlqRow, profile: EventProfile): Decoded {
  // Dump lines carry their stream in the envelope/fields; Kafka records get it from their topic.
  if (row.source === 'backfill' || row.dump_file !== null)
    return decodeDumpLine(profile, row.raw_value ?? Buffer.alloc(0));
  if (row.topic === null) return { ok: false, reason: 'UNMAPPED_TOPIC', detail: 'dead letter has no topic' };
  return decodeKafkaMessage(profile, row.topic, row.raw_value);
}

export async function replayDlq(
  filter: DlqReplayFilter,
  opts: DlqReplayOptions = {},
): Promise<DlqReplaySummary> {
  const log = logger('dlq-replay');
  const pool = opts.pool ?? getPool();
  const dryRun = opts.dryRun ?? false;
  const batchSize = opts.batchSize ?? 500;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE)
    throw new DlqReplayInputError(`batchSize must be an integer in 1..${MAX_BATCH_SIZE}, got ${batchSize}`);
  const where = replayWhere(filter, 3);
  const totals = { matched: 0, applied: 0, stillFailing: 0, skipped: 0 };
  let lastId = '0';

  for (;;) {
    opts.signal?.throwIfAborted();
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw asTransient(err, 'dlq replay connect');
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<DlqRow>(
        `SELECT id::text AS id, source, profile_id, topic, raw_value, reason, dump_file
         FROM bo.consumer_dlq_events
         WHERE id > $1::bigint AND replay_result IS DISTINCT FROM 'APPLIED'${where.sql}
         ORDER BY id LIMIT $2
         FOR UPDATE SKIP LOCKED`,
        [lastId, batchSize, ...where.values],
      );
      if (rows.length === 0) {
        await client.query('ROLLBACK');
        break;
      }
      lastId = rows[rows.length - 1]!.id;

      const marks = new Map<string, { result: ReplayResult; detail: string | null }>();
      const entries: { id: string; row: LedgerEntry }[] = [];
      const orders: { id: string; row: PaymentOrder }[] = [];
      for (const r of rows) {
        const decoded = redecode(r, profileFor(r, opts));
        if (!decoded.ok) {
          const detail =
            decoded.reason === r.reason ? decoded.detail : `now ${decoded.reason}: ${decoded.detail}`;
          marks.set(r.id, {
            result: decoded.reason === 'UNMAPPED_TOPIC' ? 'SKIPPED' : 'STILL_FAILING',
            detail,
          });
        } else if (decoded.stream === 'ledger') entries.push({ id: r.id, row: decoded.entry });
        else orders.push({ id: r.id, row: decoded.order });
      }
      const ledger = entries.length
        ? await applyLedgerEntries(
            client,
            entries.map((e) => e.row),
            'replay',
          )
        : null;
      const ord = orders.length
        ? await applyPaymentOrders(
            client,
            orders.map((o) => o.row),
            'replay',
          )
        : null;
      const markApplied = (items: { id: string }[], result: ApplyResult | null) => {
        if (!result) return;
        const rejected = new Map(result.rejected.map((r) => [r.index, r.detail]));
        items.forEach((item, i) => {
          const detail = rejected.get(i);
          marks.set(
            item.id,
            detail === undefined
              ? { result: 'APPLIED', detail: null }
              : { result: 'STILL_FAILING', detail: `DB_REJECTED: ${detail}` },
          );
        });
      };
      markApplied(entries, ledger);
      markApplied(orders, ord);

      const ids = [...marks.keys()];
      await client.query(
        `UPDATE bo.consumer_dlq_events AS d
         SET replayed_at = now(), replay_result = u.result, replay_count = d.replay_count + 1,
             error_detail = COALESCE(u.detail, d.error_detail)
         FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(id, result, detail)
         WHERE d.id = u.id`,
        [ids, ids.map((id) => marks.get(id)!.result), ids.map((id) => marks.get(id)!.detail)],
      );
      await client.query(dryRun ? 'ROLLBACK' : 'COMMIT');

      const batch = { matched: rows.length, applied: 0, stillFailing: 0, skipped: 0 };
      for (const m of marks.values()) {
        if (m.result === 'APPLIED') batch.applied += 1;
        else if (m.result === 'STILL_FAILING') batch.stillFailing += 1;
        else batch.skipped += 1;
      }
      totals.matched += batch.matched;
      totals.applied += batch.applied;
      totals.stillFailing += batch.stillFailing;
      totals.skipped += batch.skipped;
      if (!dryRun) recordMetrics(ledger, ord);
      log.info(dryRun ? 'dry-run batch (rolled back)' : 'replay batch committed', { ...batch, lastId });
      opts.onProgress?.({ ...totals, lastId });
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      const wrapped = asTransient(err, 'dlq replay');
      // A connection that failed transiently may be half-dead: do not return it to the pool.
      if (wrapped instanceof TransientDbError) broken ??= wrapped;
      throw wrapped;
    } finally {
      client.release(broken);
    }
  }
  log.info('dlq replay finished', { ...totals, dryRun, filter });
  return { ...totals, dryRun };
}

function recordMetrics(ledger: ApplyResult | null, orders: ApplyResult | null): void {
  for (const [stream, r] of [
    ['ledger', ledger],
    ['order', orders],
  ] as const) {
    if (!r) continue;
    const counts = new Map<string, number>();
    for (const o of r.outcomes)
      counts.set(o === 'rejected' ? 'dlq' : o, (counts.get(o === 'rejected' ? 'dlq' : o) ?? 0) + 1);
    for (const [outcome, n] of counts) consumerMessagesTotal.inc({ source: 'replay', stream, outcome }, n);
    pairingOutcomesTotal.inc({ outcome: 'opened' }, r.pairing.opened);
    pairingOutcomesTotal.inc({ outcome: 'completed' }, r.pairing.completed);
    pairingOutcomesTotal.inc({ outcome: 'conflict' }, r.pairing.conflicts);
    pairingOutcomesTotal.inc({ outcome: 'unpairable' }, r.pairing.unpairable);
  }
}

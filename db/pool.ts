// The one way to get PostgreSQL connections: configured from env(), instrumented (SPEC §7 db_* metrics),
// and safe against idle-connection errors (a dropped idle client must not crash the process).
import pg from 'pg';
import type { Gauge } from 'prom-client';
import { env } from '../core/env';
import { logger } from '../core/log';
import {
  dbPoolIdle,
  dbPoolTotal,
  dbPoolWaiting,
  dbQueriesTotal,
  dbQueryLatency,
  dbReplicationLag,
} from '../core/metrics';
import { classifyPgError } from './errors';

const log = logger('db');

// numeric (OID 1700) stays a string (pg's default: exact decimals, never a float).
// int8 / bigint (OID 20) becomes a number when it fits exactly, else stays a string.
const INT8_OID = 20;
function parseInt8(value: string): number | string {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
}
const typeOverrides = new pg.TypeOverrides();
typeOverrides.setTypeParser(INT8_OID, parseInt8);

// Every live pool contributes to the db_pool_* gauges; a closed pool is removed.
const livePools = new Set<pg.Pool>();

// prom-client calls a metric's `collect` before every scrape (Gauge.get()); the gauges are declared once in
// core/metrics.ts without one, and its typings do not expose the property, hence this setter.
export function onCollect(gauge: Gauge, fn: () => void | Promise<void>): void {
  (gauge as unknown as { collect?: () => void | Promise<void> }).collect = fn;
}
onCollect(dbPoolTotal, () => dbPoolTotal.set(sumOverPools((p) => p.totalCount)));
onCollect(dbPoolIdle, () => dbPoolIdle.set(sumOverPools((p) => p.idleCount)));
onCollect(dbPoolWaiting, () => dbPoolWaiting.set(sumOverPools((p) => p.waitingCount)));
function sumOverPools(f: (p: pg.Pool) => number): number {
  let total = 0;
  for (const p of livePools) total += f(p);
  return total;
}

// Replication lag is sampled at scrape time, at most every 10 s, on any live pool (they all point at the
// same Backoffice DB in one process). A failed sample keeps the last value rather than failing the scrape.
const REPLICATION_SAMPLE_MS = 10_000;
let lastLagSampleAt = 0;
onCollect(dbReplicationLag, async () => {
  const now = Date.now();
  if (now - lastLagSampleAt < REPLICATION_SAMPLE_MS) return;
  const pool = livePools.values().next().value;
  if (!pool) return;
  lastLagSampleAt = now;
  try {
    // A scrape must stay fast even when the DB hangs: give up after 2 s and keep the last value.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('replication lag sample timed out after 2 s')), 2_000);
    });
    try {
      dbReplicationLag.set(await Promise.race([sampleReplicationLagSeconds(pool), timeout]));
    } finally {
      clearTimeout(timer);
    }
  } catch (err) {
    log.warn('replication lag sample failed', { err });
  }
});

/** Seconds the DB is behind its primary; 0 on a primary. */
export async function sampleReplicationLagSeconds(runner: pg.Pool | pg.ClientBase): Promise<number> {
  const res = await runner.query<{ lag: string | number | null }>(
    `SELECT CASE WHEN pg_is_in_recovery()
                 THEN COALESCE(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)
                 ELSE 0 END AS lag`,
  );
  return Number(res.rows[0]?.lag ?? 0);
}

export interface PoolOptions {
  /**
   * Plan each prepared statement once per session (plan_cache_mode=force_generic_plan). For a pool whose
   * statements have one right plan whatever the parameter values (the Admin API's coalesced tx lookups and
   * audit batches; not wallet pages, whose plan may depend on how busy the wallet is). PostgreSQL
   * otherwise keeps re-planning a statement whose generic plan it estimates dearer than a custom one, as it does
   * for `tx_id = ANY($1)` (an array of unknown length): ~0.55 ms of planning per lookup against ~0.13 ms of
   * execution on a freshly vacuumed table, 5-14 ms while many deleted rows are not yet vacuumed away.
   */
  genericPlans?: boolean;
}

/** A new instrumented pool. Defaults: DATABASE_URL, DB_POOL_MAX, DB_STATEMENT_TIMEOUT_MS from env(). */
export function createPool(url?: string, max?: number, opts: PoolOptions = {}): pg.Pool {
  const config = env();
  const pool = new pg.Pool({
    connectionString: url ?? config.DATABASE_URL,
    ...(opts.genericPlans ? { options: '-c plan_cache_mode=force_generic_plan' } : {}),
    max: max ?? config.DB_POOL_MAX,
    statement_timeout: config.DB_STATEMENT_TIMEOUT_MS,
    // A transaction left open by a crashed caller must not hold row locks forever.
    idle_in_transaction_session_timeout: Math.max(config.DB_STATEMENT_TIMEOUT_MS * 4, 60_000),
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: `tx-lookup:${process.argv[1]?.split('/').pop() ?? 'node'}`,
    types: typeOverrides,
  });
  // A client whose connection dies emits 'error'. Idle clients are covered by the pool's 'error' event, but a
  // checked-out client between two queries (e.g. a consumer mid-transaction while the DB restarts) is not:
  // without a listener Node would crash. Its next query then fails and is classified as transient.
  pool.on('connect', (client) => {
    client.on('error', (err) => {
      log.warn('database connection error', { err, code: (err as { code?: string }).code });
    });
  });
  // Idle clients: pg-pool drops them and re-emits here; the client listener above has logged it already.
  pool.on('error', () => undefined);
  livePools.add(pool);
  const end = pool.end.bind(pool) as (...args: unknown[]) => unknown;
  pool.end = ((...args: unknown[]) => {
    livePools.delete(pool);
    return end(...args);
  }) as typeof pool.end;
  return pool;
}

/**
 * Runs `fn` on one session of `pool` with the statement timeout off, for work that may legitimately outlast
 * DB_STATEMENT_TIMEOUT_MS (bulk deletes, a benchmark's raw COPY baseline on a slow moment of the host). The setting
 * is reset before the session goes back to the pool.
 */
export async function withoutStatementTimeout<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('SET statement_timeout = 0');
    return await fn(client);
  } finally {
    // Back to the pool outside any transaction and with the pool's timeout; a session that cannot be reset is
    // destroyed instead.
    const failed = await client.query('ROLLBACK; RESET statement_timeout').then(
      () => undefined,
      (err: Error) => err,
    );
    client.release(failed);
  }
}

let singleton: pg.Pool | undefined;

/** The process-wide pool, created lazily from env(). */
export function getPool(): pg.Pool {
  singleton ??= createPool();
  return singleton;
}

/** Close the process-wide pool (no-op when none was created). */
export async function closePool(): Promise<void> {
  const pool = singleton;
  singleton = undefined;
  if (pool) await pool.end();
}

export type QueryRunner = pg.Pool | pg.ClientBase;
export type QueryOutcome = 'ok' | 'transient' | 'error';

/** Run fn and record db_query_latency_seconds{op} and db_queries_total{op,outcome}. */
export async function timed<T>(op: string, fn: () => Promise<T>): Promise<T> {
  const end = dbQueryLatency.startTimer({ op });
  try {
    const result = await fn();
    dbQueriesTotal.inc({ op, outcome: 'ok' });
    return result;
  } catch (err) {
    dbQueriesTotal.inc({ op, outcome: classifyPgError(err) === 'transient' ? 'transient' : 'error' });
    throw err;
  } finally {
    end();
  }
}

/** One instrumented query on a pool or a client. */
export function query<R extends pg.QueryResultRow = pg.QueryResultRow>(
  runner: QueryRunner,
  op: string,
  text: string | pg.QueryConfig,
  values?: unknown[],
): Promise<pg.QueryResult<R>> {
  return timed(op, () =>
    typeof text === 'string'
      ? runner.query<R>(text, values)
      : runner.query<R>({ ...text, values: values ?? text.values }),
  );
}

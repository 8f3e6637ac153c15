// The instrumented pool: type parsing, statement timeout, idle-client errors, db_* metrics.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { env } from '../../../core/env';
import { registry } from '../../../core/metrics';
import { classifyPgError } from '../../../db/errors';
import {
  closePool,
  createPool,
  getPool,
  query,
  sampleReplicationLagSeconds,
  withoutStatementTimeout,
} from '../../../db/pool';
import { databaseUrl } from './support';

let pool: pg.Pool;

beforeAll(() => {
  pool = createPool(databaseUrl(), 3);
});
afterAll(async () => {
  await pool.end();
  await closePool();
});

async function metricValue(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = await registry.getSingleMetric(name)?.get();
  const v = metric?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value;
}

describe('createPool', () => {
  it('returns numeric as exact strings and int8 as numbers when safe', async () => {
    const res = await pool.query(
      `SELECT 1500.10::numeric AS amount, 42::bigint AS small, 9223372036854775807::bigint AS huge, 7::int AS int4`,
    );
    expect(res.rows[0]).toEqual({ amount: '1500.10', small: 42, huge: '9223372036854775807', int4: 7 });
  });

  it('sets statement_timeout from DB_STATEMENT_TIMEOUT_MS', async () => {
    const res = await pool.query<{ statement_timeout: string }>('SHOW statement_timeout');
    const ms = env().DB_STATEMENT_TIMEOUT_MS;
    expect(res.rows[0]!.statement_timeout).toBe(ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
  });

  it('withoutStatementTimeout lifts the timeout for its session only, and resets it even after a failure', async () => {
    const one = createPool(databaseUrl(), 1); // one session: what the next query sees is the session fn used
    try {
      await one.query(`SET statement_timeout = '100ms'`); // as if DB_STATEMENT_TIMEOUT_MS were 100
      await expect(one.query('SELECT pg_sleep(0.3)')).rejects.toThrow(/statement timeout/);
      const slept = await withoutStatementTimeout(one, async (c) => {
        await c.query('SELECT pg_sleep(0.3)');
        return (await c.query<{ t: string }>("SELECT current_setting('statement_timeout') AS t")).rows[0]!.t;
      });
      expect(slept).toBe('0');
      // RESET goes back to the session default (the pool's setting at connect time), not to the SET above.
      const after = (await one.query<{ t: string }>("SELECT current_setting('statement_timeout') AS t"))
        .rows[0]!.t;
      expect(after).not.toBe('0');
      await expect(
        withoutStatementTimeout(one, async (c) => {
          await c.query('BEGIN');
          await c.query('SELECT 1/0');
        }),
      ).rejects.toThrow(/division by zero/);
      // Not left in the aborted transaction, timeout back on.
      expect((await one.query('SELECT 1 AS one')).rows[0].one).toBe(1);
      expect(
        (await one.query<{ t: string }>("SELECT current_setting('statement_timeout') AS t")).rows[0]!.t,
      ).toBe(after);
    } finally {
      await one.end();
    }
  });

  it('survives an idle client losing its connection', async () => {
    const client = await pool.connect();
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    client.release(); // now idle in the pool
    const errors: Error[] = [];
    const onError = (err: Error) => errors.push(err);
    pool.on('error', onError);
    const other = createPool(databaseUrl(), 1);
    try {
      await other.query('SELECT pg_terminate_backend($1)', [pid]);
    } finally {
      await other.end();
    }
    for (let i = 0; i < 50 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    pool.off('error', onError);
    expect(errors.length).toBe(1); // delivered to the pool's listeners instead of crashing the process
    expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
  });

  it('survives a checked-out client losing its connection between queries; the next query is transient', async () => {
    const client = await pool.connect();
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const other = createPool(databaseUrl(), 1);
    try {
      await other.query('SELECT pg_terminate_backend($1)', [pid]);
    } finally {
      await other.end();
    }
    await new Promise((r) => setTimeout(r, 100)); // the FATAL notice arrives while no query is running
    const err = await client.query('SELECT 1').then(
      () => undefined,
      (e: unknown) => e,
    );
    client.release(true);
    expect(classifyPgError(err)).toBe('transient');
  });

  it('exports pool gauges, replication lag (0 on a primary) and per-op query metrics', async () => {
    const before = (await metricValue('db_queries_total', { op: 'pool_test', outcome: 'ok' })) ?? 0;
    await query(pool, 'pool_test', 'SELECT $1::int AS x', [1]);
    await expect(query(pool, 'pool_test', 'SELECT 1/0')).rejects.toThrow(/division by zero/);
    expect(await metricValue('db_queries_total', { op: 'pool_test', outcome: 'ok' })).toBe(before + 1);
    expect(
      await metricValue('db_queries_total', { op: 'pool_test', outcome: 'error' }),
    ).toBeGreaterThanOrEqual(1);
    const text = await registry.metrics();
    expect(text).toMatch(/db_query_latency_seconds_count\{op="pool_test"\} \d+/);
    expect(await metricValue('db_pool_total')).toBeGreaterThanOrEqual(1);
    expect(await metricValue('db_pool_idle')).toBeGreaterThanOrEqual(0);
    expect(await metricValue('db_pool_waiting')).toBe(0);
    expect(await sampleReplicationLagSeconds(pool)).toBe(0);
    expect(text).toMatch(/^db_replication_lag_seconds 0$/m);
  });
});

describe('getPool / closePool', () => {
  it('is a lazy process singleton that can be closed and recreated', async () => {
    const a = getPool();
    expect(getPool()).toBe(a);
    await closePool();
    const b = getPool();
    expect(b).not.toBe(a);
    await closePool();
  });
});

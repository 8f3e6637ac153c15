// New keys are written by a plain INSERT (faster than INSERT ... ON CONFLICT). A racing writer that inserts one
// of them first makes that statement fail with unique_violation on the primary key; the merge must then run
// again through ON CONFLICT: LWW decides, nothing is dead-lettered. The race is made deterministic here: the
// other writer's insert is uncommitted when our merge starts (so our snapshot does not see it) and commits
// while our INSERT waits on it.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../../contract';
import { dbQueriesTotal } from '../../../core/metrics';
import { createStagingTables, mergeStagedLedger, stagingCopySql, toLedgerCopyLine } from '../../../db/apply';
import { apply, databaseUrl, entry, readEntry, setupPool, uniquePrefix } from './support';

let pool: pg.Pool;
beforeAll(async () => {
  pool = await setupPool();
});
afterAll(async () => {
  await pool.end();
});

/** Inserts `row` in an open transaction of its own connection; commit() makes it visible. */
async function uncommittedInsert(row: LedgerEntry): Promise<{ commit: () => Promise<void> }> {
  const other = new pg.Client({ connectionString: databaseUrl() });
  await other.connect();
  await other.query('BEGIN');
  await other.query(
    `INSERT INTO bo.ledger_entries (tx_id, wallet_id, entry_type, amount, related_type, event_time, source_version, ingested_at, source)
     VALUES ($1, $2, $3, $4, $5, $6, $7, now(), 'consumer')`,
    [
      row.tx_id,
      row.wallet_id,
      row.entry_type,
      row.amount,
      row.related_type,
      row.event_time,
      row.source_version,
    ],
  );
  return {
    commit: async () => {
      await other.query('COMMIT');
      await other.end();
    },
  };
}

/** Resolves once some backend waits for a lock (our merge blocked behind the uncommitted insert). */
async function someoneWaitsOnALock(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const res = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if (res.rows[0]!.n > 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the merge never waited on the racing insert');
}

/** Statements run so far for a data-layer op, by outcome. */
async function statements(op: string): Promise<{ ok: number; error: number }> {
  const values = (await dbQueriesTotal.get()).values.filter((v) => v.labels.op === op);
  const n = (outcome: string) =>
    values.filter((v) => v.labels.outcome === outcome).reduce((s, v) => s + v.value, 0);
  return { ok: n('ok'), error: n('error') };
}

describe('a racing writer inserts a new key first', () => {
  it('per-batch path: re-run through ON CONFLICT, LWW decides, nothing rejected', async () => {
    const prefix = uniquePrefix('race-batch');
    const raced = entry(`${prefix}k`, { source_version: 5, amount: '5' });
    const other = await uncommittedInsert(raced);
    const before = await statements('apply_batch');
    const pending = apply(pool, {
      entries: [{ ...raced, source_version: 7, amount: '7' }, entry(`${prefix}n`, { source_version: 1 })],
    });
    await someoneWaitsOnALock();
    await other.commit();
    const res = await pending;
    expect(res.ledger.outcomes).toEqual(['updated', 'inserted']);
    expect(res.ledger.rejected).toEqual([]);
    // The failed fast statement and its ON CONFLICT re-run: no fallback to the isolated, bisecting path.
    const after = await statements('apply_batch');
    expect({ ok: after.ok - before.ok, error: after.error - before.error }).toEqual({ ok: 1, error: 1 });
    expect(res.dlqInserted).toBe(0);
    expect((await readEntry(pool, raced.tx_id))?.amount).toBe('7');
  });

  it('per-batch path: an older version loses to the racer', async () => {
    const prefix = uniquePrefix('race-batch-old');
    const raced = entry(`${prefix}k`, { source_version: 5, amount: '5' });
    const other = await uncommittedInsert(raced);
    const pending = apply(pool, { entries: [{ ...raced, source_version: 3, amount: '3' }] });
    await someoneWaitsOnALock();
    await other.commit();
    const res = await pending;
    expect(res.ledger.outcomes).toEqual(['stale']);
    expect((await readEntry(pool, raced.tx_id))?.amount).toBe('5');
  });

  it('staged path (COPY + merge): re-run through ON CONFLICT inside the same transaction', async () => {
    const prefix = uniquePrefix('race-stage');
    const raced = entry(`${prefix}k`, { source_version: 5, amount: '5' });
    const fresh = entry(`${prefix}n`, { source_version: 1 });
    const other = await uncommittedInsert(raced);
    const client = await pool.connect();
    try {
      await createStagingTables(client);
      await client.query('BEGIN');
      await pipeline(
        Readable.from([
          toLedgerCopyLine({ ...raced, source_version: 7, amount: '7' }, 1),
          toLedgerCopyLine(fresh, 2),
        ]),
        client.query(copyFrom(stagingCopySql('ledger'))),
      );
      const before = await statements('merge_staged_ledger');
      const merging = mergeStagedLedger(client, 'backfill');
      await someoneWaitsOnALock();
      await other.commit();
      const summary = await merging;
      await client.query('COMMIT');
      expect(summary).toMatchObject({ inserted: 1, updated: 1, stale: 0, unchanged: 0, rejected: [] });
      // One failed statement, one re-run: no bisection.
      const after = await statements('merge_staged_ledger');
      expect({ ok: after.ok - before.ok, error: after.error - before.error }).toEqual({ ok: 1, error: 1 });
    } finally {
      client.release();
    }
    expect((await readEntry(pool, raced.tx_id))?.amount).toBe('7');
    expect((await readEntry(pool, fresh.tx_id))?.source_version).toBe(1);
  });
});

// The bulk (backfill) path: COPY into the session's staging tables, merged by the same LWW + pairing statement.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerEntry, PaymentOrder } from '../../../contract';
import { createStagingTables, mergeStagedLedger, toLedgerCopyLine, toOrderCopyLine } from '../../../db/apply';
import { RowRejectedError } from '../../../db/errors';
import {
  apply,
  at,
  entry,
  order,
  readEntry,
  setupPool,
  snapshot,
  stageAndMerge as stageAndMergeOn,
  uniquePrefix,
} from './support';

let pool: pg.Pool;

beforeAll(async () => {
  pool = await setupPool();
});
afterAll(async () => {
  await pool.end();
});

const stageAndMerge = (entries: LedgerEntry[], orders: PaymentOrder[], firstSeq = 1) =>
  stageAndMergeOn(pool, entries, orders, firstSeq);

function history(prefix: string): { entries: LedgerEntry[]; orders: PaymentOrder[] } {
  const rel = `${prefix}rel`;
  return {
    entries: [
      entry(`${prefix}a`, { source_version: 1, amount: '1' }),
      entry(`${prefix}pay`, {
        entry_type: 'PAYMENT',
        related_id: rel,
        related_type: 'PAYMENT_ORDER',
        updated_at: at(1),
      }),
      entry(`${prefix}a`, { source_version: 3, amount: '3' }),
      entry(`${prefix}b`, { amount: '10', currency: 'tab\there\nnewline\\back' }),
      entry(`${prefix}a`, { source_version: 2, amount: '2' }),
      entry(`${prefix}rec`, { entry_type: 'RECEIVE', related_id: rel, related_type: 'PAYMENT_ORDER' }),
      entry(`${prefix}b`, { amount: '11' }),
      entry(`${prefix}pay-dup`, { entry_type: 'PAYMENT', related_id: rel, related_type: 'PAYMENT_ORDER' }),
    ],
    orders: [
      order(`${prefix}o`, { source_version: 2, status: 'PAID', status_group: 'SUCCESS' }),
      order(`${prefix}o`, { source_version: 1 }),
    ],
  };
}

const strip = (prefix: string, s: { entries: string[]; orders: string[]; pairs: string[] }) =>
  JSON.stringify(s).replaceAll(prefix, 'P:');

describe('COPY staging + merge', () => {
  it('gives exactly the state of the per-batch path, with counts', async () => {
    const viaCopy = uniquePrefix('stage-copy');
    const viaBatch = uniquePrefix('stage-batch');
    const h1 = history(viaCopy);
    const res = await stageAndMerge(h1.entries, h1.orders);
    expect(res.ledger).toEqual({
      inserted: 5,
      updated: 0,
      unchanged: 0,
      stale: 3,
      rejected: [],
      pairing: { opened: 1, completed: 1, conflicts: 1, unpairable: 2 },
      versionMissing: 4,
    });
    expect(res.orders).toMatchObject({ inserted: 1, stale: 1, rejected: [] });

    const h2 = history(viaBatch);
    await apply(pool, h2, 'backfill');
    expect(strip(viaCopy, await snapshot(pool, viaCopy))).toBe(
      strip(viaBatch, await snapshot(pool, viaBatch)),
    );
    expect((await readEntry(pool, `${viaCopy}b`))?.amount).toBe('11');
    expect((await readEntry(pool, `${viaCopy}a`))?.amount).toBe('3');

    // Re-running the same chunk changes nothing.
    const before = await snapshot(pool, viaCopy);
    const again = await stageAndMerge(h1.entries, h1.orders);
    expect(again.ledger).toMatchObject({ inserted: 0, updated: 0, unchanged: 5, stale: 3 });
    expect(again.ledger.pairing).toEqual({ opened: 0, completed: 0, conflicts: 0, unpairable: 0 });
    expect(await snapshot(pool, viaCopy)).toEqual(before);
  });

  it('text with tabs, newlines and backslashes survives the COPY encoding', async () => {
    const prefix = uniquePrefix('stage-esc');
    const weird = 'a\tb\nc\\d\re \\N';
    await stageAndMerge([entry(`${prefix}x`, { currency: weird, related_type: '\\N' })], []);
    const row = await readEntry(pool, `${prefix}x`);
    expect(row?.currency).toBe(weird);
    expect(row?.related_type).toBe('\\N');
  });

  it('a staged row only PostgreSQL refuses is isolated by its arrival_seq; the rest is merged', async () => {
    const prefix = uniquePrefix('stage-rej');
    const rows = Array.from({ length: 10 }, (_, i) => entry(`${prefix}${i}`));
    rows[4] = entry(`${prefix}4`, { event_time: new Date(-8.64e15) });
    rows[7] = entry(`${prefix}7`, { updated_at: new Date(8.64e15) });
    const res = await stageAndMerge(rows, [], 100);
    expect(res.ledger.rejected.map((r) => r.arrivalSeq)).toEqual([104, 107]);
    expect(res.ledger.rejected[0]!.detail).toMatch(/^22\d{3} /);
    expect(res.ledger.inserted).toBe(8);
    expect(await readEntry(pool, `${prefix}4`)).toBeUndefined();
    expect(await readEntry(pool, `${prefix}9`)).toBeDefined();
  });

  it('the COPY encoder refuses a row the DB cannot store', () => {
    expect(() => toLedgerCopyLine(entry('x', { wallet_id: 'a\u0000b' }), 1)).toThrow(RowRejectedError);
    expect(() => toOrderCopyLine(order('y', { amount: 'Infinity' }), 1)).toThrow(/amount/);
  });

  it('merging outside a transaction is refused with a clear error', async () => {
    const client = await pool.connect();
    try {
      await createStagingTables(client);
      await expect(mergeStagedLedger(client, 'backfill')).rejects.toThrow(/must run inside a transaction/);
    } finally {
      client.release();
    }
  });
});

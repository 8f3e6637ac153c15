// Pairing (SPEC §2): PAYMENT and RECEIVE with one related_id pair in any order, any time apart; COMPLETE never
// regresses; a second different entry of a filled type is a conflict, counted once and kept visible.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../../contract';
import { apply, at, entry, readPair, setupPool, uniquePrefix } from './support';

let pool: pg.Pool;
const prefix = uniquePrefix('pair');
const DAY = 24 * 60;

const payment = (tx: string, related: string, over: Partial<LedgerEntry> = {}) =>
  entry(tx, {
    entry_type: 'PAYMENT',
    related_id: related,
    related_type: 'PAYMENT_ORDER',
    amount: '-5000',
    ...over,
  });
const receive = (tx: string, related: string, over: Partial<LedgerEntry> = {}) =>
  entry(tx, {
    entry_type: 'RECEIVE',
    related_id: related,
    related_type: 'PAYMENT_ORDER',
    amount: '5000',
    ...over,
  });

beforeAll(async () => {
  pool = await setupPool();
});
afterAll(async () => {
  await pool.end();
});

describe('pairing', () => {
  it('RECEIVE first, PAYMENT days later in another batch -> COMPLETE with completed_at; replays change nothing', async () => {
    const rel = `${prefix}order-1`;
    const rec = receive(`${prefix}rec-1`, rel, { event_time: at(0) });
    const pay = payment(`${prefix}pay-1`, rel, { event_time: at(3 * DAY) });

    const r1 = await apply(pool, { entries: [rec] });
    expect(r1.ledger.pairing).toEqual({ opened: 1, completed: 0, conflicts: 0, unpairable: 0 });
    const open = await readPair(pool, rel);
    expect(open).toMatchObject({
      pairing_status: 'INCOMPLETE',
      payment_tx_id: null,
      receive_tx_id: rec.tx_id,
      completed_at: null,
    });

    const r2 = await apply(pool, { entries: [pay] });
    expect(r2.ledger.pairing).toEqual({ opened: 0, completed: 1, conflicts: 0, unpairable: 0 });
    const done = await readPair(pool, rel);
    expect(done).toMatchObject({
      pairing_status: 'COMPLETE',
      payment_tx_id: pay.tx_id,
      receive_tx_id: rec.tx_id,
    });
    expect(done!.first_seen_at).toEqual(open!.first_seen_at);
    expect(done!.completed_at).toBeInstanceOf(Date);
    expect(done!.completed_at!.getTime()).toBeGreaterThanOrEqual(open!.first_seen_at.getTime());

    // Replay everything twice, in both orders: the pair row is not even rewritten (same xmin).
    for (const batch of [
      [rec, pay],
      [pay, rec],
    ]) {
      const again = await apply(pool, { entries: batch }, 'replay');
      expect(again.ledger.outcomes).toEqual(['unchanged', 'unchanged']);
      expect(again.ledger.pairing).toEqual({ opened: 0, completed: 0, conflicts: 0, unpairable: 0 });
    }
    expect(await readPair(pool, rel)).toEqual(done);
  });

  it('a second different PAYMENT is a conflict: first kept, counted once, COMPLETE does not regress', async () => {
    const rel = `${prefix}order-2`;
    const pay = payment(`${prefix}pay-2`, rel);
    const rec = receive(`${prefix}rec-2`, rel);
    const rogue = payment(`${prefix}pay-2-dup`, rel);

    const both = await apply(pool, { entries: [pay, rec] });
    expect(both.ledger.pairing).toEqual({ opened: 1, completed: 1, conflicts: 0, unpairable: 0 });
    const complete = await readPair(pool, rel);

    const conflict = await apply(pool, { entries: [rogue] });
    expect(conflict.ledger.outcomes).toEqual(['inserted']);
    expect(conflict.ledger.pairing).toEqual({ opened: 0, completed: 0, conflicts: 1, unpairable: 0 });
    const after = await readPair(pool, rel);
    expect(after).toMatchObject({
      pairing_status: 'COMPLETE',
      payment_tx_id: pay.tx_id,
      receive_tx_id: rec.tx_id,
      conflict_count: 1,
      conflict_tx_ids: [rogue.tx_id],
      completed_at: complete!.completed_at,
    });

    // A newer version of the conflicting entry, and a replay of all three: no new conflict, no rewrite.
    const rogueV2 = { ...rogue, amount: '-4999', source_version: 2 };
    const replay = await apply(pool, { entries: [rec, rogueV2, pay] }, 'replay');
    expect(replay.ledger.outcomes).toEqual(['unchanged', 'updated', 'unchanged']);
    expect(replay.ledger.pairing.conflicts).toBe(0);
    expect(await readPair(pool, rel)).toEqual(after);
  });

  it('two PAYMENTs for one related_id in the same batch: the earlier arrival holds the slot', async () => {
    const rel = `${prefix}order-3`;
    const first = payment(`${prefix}pay-3-b`, rel);
    const second = payment(`${prefix}pay-3-a`, rel); // sorts before `first`: arrival, not key order, decides
    const res = await apply(pool, { entries: [first, second] });
    expect(res.ledger.pairing).toEqual({ opened: 1, completed: 0, conflicts: 1, unpairable: 0 });
    expect(await readPair(pool, rel)).toMatchObject({
      pairing_status: 'INCOMPLETE',
      payment_tx_id: first.tx_id,
      receive_tx_id: null,
      conflict_count: 1,
      conflict_tx_ids: [second.tx_id],
    });
  });

  it('entries that cannot pair get no pair row and count as unpairable once', async () => {
    const noRelated = entry(`${prefix}np-1`, { entry_type: 'PAYMENT' });
    const otherType = entry(`${prefix}np-2`, {
      entry_type: 'PAYMENT',
      related_id: `${prefix}np-rel-2`,
      related_type: 'SETTLEMENT',
    });
    const refund = entry(`${prefix}np-3`, {
      entry_type: 'REFUND',
      related_id: `${prefix}np-rel-3`,
      related_type: 'PAYMENT_ORDER',
    });
    const res = await apply(pool, { entries: [noRelated, otherType, refund] });
    expect(res.ledger.pairing).toEqual({ opened: 0, completed: 0, conflicts: 0, unpairable: 3 });
    expect(await readPair(pool, `${prefix}np-rel-2`)).toBeUndefined();
    expect(await readPair(pool, `${prefix}np-rel-3`)).toBeUndefined();
    const replay = await apply(pool, { entries: [noRelated, otherType, refund] }, 'replay');
    expect(replay.ledger.pairing.unpairable).toBe(0);
  });

  it('a stale version does not pair', async () => {
    const rel = `${prefix}order-4`;
    const tx = `${prefix}pay-4`;
    // The stored (newer) version is not pairable; an older version that would pair loses and must not pair.
    await apply(pool, { entries: [entry(tx, { entry_type: 'ADJUSTMENT', source_version: 5 })] });
    const stale = await apply(pool, { entries: [payment(tx, rel, { source_version: 4 })] });
    expect(stale.ledger.outcomes).toEqual(['stale']);
    expect(stale.ledger.pairing.opened).toBe(0);
    expect(await readPair(pool, rel)).toBeUndefined();
  });
});

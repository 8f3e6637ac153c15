// Last-writer-wins (SPEC §2), table-driven: every combination of present/absent updated_at / source_version
// on the stored and the incoming side, with newer / older / equal versions.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../../contract';
import { apply, at, entry, order, readEntry, readOrder, setupPool, uniquePrefix } from './support';

type Stamps = 'U' | 'V' | 'UV' | 'N'; // updated_at only, source_version only, both, neither
type Decider = 'updated_at' | 'source_version' | 'arrival';

// The rule, written out: [stored][incoming] -> what decides.
const DECIDER: Record<Stamps, Record<Stamps, Decider>> = {
  U: { U: 'updated_at', V: 'arrival', UV: 'updated_at', N: 'arrival' },
  V: { U: 'arrival', V: 'source_version', UV: 'source_version', N: 'arrival' },
  UV: { U: 'updated_at', V: 'source_version', UV: 'updated_at', N: 'arrival' },
  N: { U: 'arrival', V: 'arrival', UV: 'arrival', N: 'arrival' },
};

type Direction = 'newer' | 'older' | 'equal';
const STORED_U = at(10);
const STORED_V = 10;
const U_OF: Record<Direction, Date> = { newer: at(20), older: at(5), equal: at(10) };
const V_OF: Record<Direction, number> = { newer: 20, older: 5, equal: 10 };
// The non-deciding stamp points the other way, proving it is ignored.
const OPPOSITE: Record<Direction, Direction> = { newer: 'older', older: 'newer', equal: 'newer' };

interface Case {
  name: string;
  stored: Stamps;
  incoming: Stamps;
  direction: Direction;
  expected: 'updated' | 'stale';
}

const cases: Case[] = [];
for (const stored of ['U', 'V', 'UV', 'N'] as const) {
  for (const incoming of ['U', 'V', 'UV', 'N'] as const) {
    const decider = DECIDER[stored][incoming];
    const directions: Direction[] = decider === 'arrival' ? ['older', 'newer'] : ['newer', 'older', 'equal'];
    for (const direction of directions) {
      cases.push({
        name: `stored ${stored} / incoming ${incoming} / ${direction} -> decided by ${decider}`,
        stored,
        incoming,
        direction,
        expected: decider === 'arrival' || direction === 'newer' ? 'updated' : 'stale',
      });
    }
  }
}

function stamps(which: Stamps, u: Date, v: number): Pick<LedgerEntry, 'updated_at' | 'source_version'> {
  return {
    updated_at: which === 'U' || which === 'UV' ? u : null,
    source_version: which === 'V' || which === 'UV' ? v : null,
  };
}

function incomingStamps(c: Case): Pick<LedgerEntry, 'updated_at' | 'source_version'> {
  const decider = DECIDER[c.stored][c.incoming];
  const uDir = decider === 'source_version' ? OPPOSITE[c.direction] : c.direction;
  const vDir = decider === 'updated_at' ? OPPOSITE[c.direction] : c.direction;
  return stamps(c.incoming, U_OF[uDir], V_OF[vDir]);
}

let pool: pg.Pool;
const prefix = uniquePrefix('lww');

beforeAll(async () => {
  pool = await setupPool();
});
afterAll(async () => {
  await pool.end();
});

describe('LWW across batches (stored vs incoming)', () => {
  it(`decides ${cases.length} stamp combinations by the rule and stores the winner`, async () => {
    const id = (i: number) => `${prefix}case-${i}`;
    const first = await apply(pool, {
      entries: cases.map((c, i) =>
        entry(id(i), { amount: '100.00', ...stamps(c.stored, STORED_U, STORED_V) }),
      ),
    });
    expect(first.ledger.outcomes).toEqual(cases.map(() => 'inserted'));

    const second = await apply(pool, {
      entries: cases.map((c, i) => entry(id(i), { amount: '200.00', ...incomingStamps(c) })),
    });
    const got = cases.map((c, i) => `${c.name}: ${second.ledger.outcomes[i]}`);
    expect(got).toEqual(cases.map((c) => `${c.name}: ${c.expected}`));

    for (const [i, c] of cases.entries()) {
      const row = await readEntry(pool, id(i));
      expect(row?.amount, c.name).toBe(c.expected === 'updated' ? '200.00' : '100.00');
    }
  });

  it('older-after-newer is stale; the newer redelivered is unchanged', async () => {
    const tx = `${prefix}ooo`;
    await apply(pool, { entries: [entry(tx, { source_version: 7, amount: '7' })] });
    const older = await apply(pool, { entries: [entry(tx, { source_version: 3, amount: '3' })] });
    expect(older.ledger.outcomes).toEqual(['stale']);
    const again = await apply(pool, { entries: [entry(tx, { source_version: 7, amount: '7' })] });
    expect(again.ledger.outcomes).toEqual(['unchanged']);
    expect((await readEntry(pool, tx))?.amount).toBe('7');
  });

  it('identical redelivery is unchanged and touches nothing, not even ingested_at or source', async () => {
    const tx = `${prefix}redeliver`;
    const row = entry(tx, { updated_at: at(1), source_version: 1, currency: null });
    const first = await apply(pool, { entries: [row] }, 'consumer');
    expect(first.ledger.outcomes).toEqual(['inserted']);
    const before = await readEntry(pool, tx);
    for (const source of ['consumer', 'replay', 'backfill'] as const) {
      const again = await apply(pool, { entries: [{ ...row }] }, source);
      expect(again.ledger.outcomes).toEqual(['unchanged']);
    }
    // An unversioned row redelivered is also unchanged (content equal), even though arrival would let it win.
    const plain = entry(`${prefix}redeliver-plain`);
    await apply(pool, { entries: [plain] });
    const plainBefore = await readEntry(pool, plain.tx_id);
    expect((await apply(pool, { entries: [plain] })).ledger.outcomes).toEqual(['unchanged']);
    expect(await readEntry(pool, plain.tx_id)).toEqual(plainBefore);

    const after = await readEntry(pool, tx);
    expect(after).toEqual(before);
    expect(after?.source).toBe('consumer');
  });

  it('an applied newer version sets ingested_at to the transaction time and source to the writer', async () => {
    const tx = `${prefix}ingest`;
    await apply(pool, { entries: [entry(tx, { source_version: 1 })] }, 'backfill');
    const before = await readEntry(pool, tx);
    expect(before?.source).toBe('backfill');
    const res = await apply(pool, { entries: [entry(tx, { source_version: 2, amount: '5' })] }, 'consumer');
    const after = await readEntry(pool, tx);
    expect(after?.source).toBe('consumer');
    expect(after!.ingested_at.getTime()).toBeGreaterThanOrEqual(before!.ingested_at.getTime());
    expect(after!.ingested_at.getTime()).toBeLessThanOrEqual(res.committedAt.getTime());
  });

  it('applies the same rule to payment orders', async () => {
    const id = `${prefix}order`;
    await apply(pool, { orders: [order(id, { updated_at: at(10), status: 'PENDING' })] });
    const stale = await apply(pool, {
      orders: [order(id, { updated_at: at(9), status: 'FAILED', status_group: 'FAILED' })],
    });
    expect(stale.orders.outcomes).toEqual(['stale']);
    const tie = await apply(pool, {
      orders: [order(id, { updated_at: at(10), status: 'DECLINED', status_group: 'FAILED' })],
    });
    expect(tie.orders.outcomes).toEqual(['stale']);
    const newer = await apply(pool, {
      orders: [order(id, { updated_at: at(11), status: 'PAID', status_group: 'SUCCESS' })],
    });
    expect(newer.orders.outcomes).toEqual(['updated']);
    const row = await readOrder(pool, id);
    expect(row?.status).toBe('PAID');
    expect(row?.status_group).toBe('SUCCESS');
    const same = await apply(pool, {
      orders: [order(id, { updated_at: at(11), status: 'PAID', status_group: 'SUCCESS' })],
    });
    expect(same.orders.outcomes).toEqual(['unchanged']);
    expect(await readOrder(pool, id)).toEqual(row);
  });

  it('counts rows without any version (versionMissing)', async () => {
    const res = await apply(pool, {
      entries: [
        entry(`${prefix}vm-1`),
        entry(`${prefix}vm-2`, { source_version: 1 }),
        entry(`${prefix}vm-3`, { updated_at: at(1) }),
      ],
      orders: [order(`${prefix}vm-o`)],
    });
    expect(res.ledger.versionMissing).toBe(1);
    expect(res.orders.versionMissing).toBe(1);
  });
});

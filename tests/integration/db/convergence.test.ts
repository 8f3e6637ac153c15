// Convergence properties: a shuffled, re-batched, replayed event history ends in the same state (fast-check),
// and two concurrent writers never leave a row older than the newest version written.
import fc from 'fast-check';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerEntry, PaymentOrder } from '../../../contract';
import { TransientDbError } from '../../../db/errors';
import { createPool } from '../../../db/pool';
import { apply, at, databaseUrl, entry, order, setupPool, snapshot, uniquePrefix } from './support';

let pool: pg.Pool;

beforeAll(async () => {
  pool = await setupPool();
});
afterAll(async () => {
  await pool.end();
});

type Event = { kind: 'ledger'; row: LedgerEntry } | { kind: 'order'; row: PaymentOrder };

// A history: per key, distinct versions (the order-independent part of the rule decides), each possibly
// redelivered. Every key's versions all carry updated_at (mode 'u') or all carry source_version (mode 'v').
// Ledger keys come in PAYMENT/RECEIVE pairs sharing a related_id, so pairing is exercised but never conflicts.
const historyArb = fc.record({
  mode: fc.constantFrom('u' as const, 'v' as const),
  keys: fc.array(
    fc.record({
      versions: fc.uniqueArray(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 4 }),
      duplicates: fc.array(fc.nat(3), { maxLength: 3 }),
    }),
    { minLength: 1, maxLength: 5 },
  ),
  replays: fc.array(
    fc.record({
      seed: fc.integer(),
      batchSizes: fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 6 }),
    }),
    { minLength: 2, maxLength: 3 },
  ),
});

function buildEvents(prefix: string, h: HistoryValue): { events: Event[]; expected: Map<string, number> } {
  const events: Event[] = [];
  const expected = new Map<string, number>();
  h.keys.forEach((k, i) => {
    const stamp = (v: number) =>
      h.mode === 'u' ? { updated_at: at(v), source_version: null } : { updated_at: null, source_version: v };
    const rel = `${prefix}rel-${Math.floor(i / 2)}`;
    const versions = [...k.versions, ...k.duplicates.map((d) => k.versions[d % k.versions.length]!)];
    for (const v of versions) {
      events.push({
        kind: 'ledger',
        row: entry(`${prefix}tx-${i}`, {
          entry_type: i % 2 === 0 ? 'PAYMENT' : 'RECEIVE',
          related_id: rel,
          related_type: 'PAYMENT_ORDER',
          amount: `${v}.50`,
          currency: v % 2 ? 'KRW' : 'USD',
          ...stamp(v),
        }),
      });
      events.push({
        kind: 'order',
        row: order(`${prefix}ord-${i}`, {
          amount: `${v}`,
          status: v % 2 ? 'PENDING' : 'PAID',
          status_group: v % 2 ? 'IN_PROGRESS' : 'SUCCESS',
          ...stamp(v),
        }),
      });
    }
    expected.set(`${prefix}tx-${i}`, Math.max(...k.versions));
  });
  return { events, expected };
}
type HistoryValue = typeof historyArb extends fc.Arbitrary<infer T> ? T : never;

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  // Deterministic Fisher-Yates driven by a small LCG, so fast-check can replay a counterexample.
  const out = [...xs];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('convergence', () => {
  it('a shuffled history replayed in random batchings converges to the same final state', async () => {
    await fc.assert(
      fc.asyncProperty(historyArb, async (h) => {
        const prefix = uniquePrefix('conv');
        const { events, expected } = buildEvents(prefix, h);
        const states: string[] = [];
        for (const replay of h.replays) {
          const order = shuffled(events, replay.seed);
          let pos = 0;
          let b = 0;
          while (pos < order.length) {
            const size = replay.batchSizes[b++ % replay.batchSizes.length]!;
            const chunk = order.slice(pos, pos + size);
            pos += size;
            await apply(pool, {
              entries: chunk.flatMap((e) => (e.kind === 'ledger' ? [e.row] : [])),
              orders: chunk.flatMap((e) => (e.kind === 'order' ? [e.row] : [])),
            });
          }
          states.push(JSON.stringify(await snapshot(pool, prefix)));
        }
        expect(new Set(states).size).toBe(1);
        // And the converged state is the newest version of every key.
        const rows = await pool.query<{ tx_id: string; amount: string }>(
          `SELECT tx_id, amount FROM bo.ledger_entries WHERE tx_id LIKE $1`,
          [`${prefix}%`],
        );
        expect(Object.fromEntries(rows.rows.map((r) => [r.tx_id, r.amount]))).toEqual(
          Object.fromEntries([...expected].map(([k, v]) => [k, `${v}.50`])),
        );
        const pairs = await pool.query<{
          related_id: string;
          pairing_status: string;
          conflict_count: number;
        }>(
          `SELECT related_id, pairing_status, conflict_count FROM bo.payment_ledger_pairs WHERE related_id LIKE $1`,
          [`${prefix}%`],
        );
        for (const p of pairs.rows) {
          const index = Number(p.related_id.slice(`${prefix}rel-`.length));
          expect(p.pairing_status).toBe(2 * index + 1 < h.keys.length ? 'COMPLETE' : 'INCOMPLETE');
          expect(p.conflict_count).toBe(0);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('two concurrent writers hammering the same keys never leave a row older than the newest version written', async () => {
    const prefix = uniquePrefix('race');
    const keys = Array.from({ length: 6 }, (_, i) => `${prefix}k-${i}`);
    const writers = [createPool(databaseUrl(), 2), createPool(databaseUrl(), 2)];
    const maxWritten = new Map<string, number>();
    let transientRetries = 0;
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const work = async (writer: pg.Pool) => {
      for (let round = 0; round < 40; round++) {
        const batch = Array.from({ length: 8 }, () => {
          const key = keys[rand(keys.length)]!;
          const v = 1 + rand(10_000);
          return entry(key, { source_version: v, amount: String(v), wallet_id: `${prefix}w` });
        });
        for (;;) {
          try {
            await apply(writer, { entries: batch });
            break;
          } catch (err) {
            // Deadlocks / serialization failures are transient by contract: the writer retries the batch.
            if (!(err instanceof TransientDbError)) throw err;
            transientRetries += 1;
          }
        }
        for (const e of batch)
          maxWritten.set(e.tx_id, Math.max(maxWritten.get(e.tx_id) ?? 0, e.source_version!));
      }
    };
    try {
      await Promise.all(writers.map(work));
    } finally {
      await Promise.all(writers.map((w) => w.end()));
    }
    const rows = await pool.query<{ tx_id: string; source_version: number; amount: string }>(
      `SELECT tx_id, source_version, amount FROM bo.ledger_entries WHERE tx_id LIKE $1 ORDER BY tx_id`,
      [`${prefix}%`],
    );
    expect(rows.rows).toHaveLength(keys.length);
    for (const r of rows.rows) {
      expect(r.source_version).toBe(maxWritten.get(r.tx_id));
      expect(r.amount).toBe(String(maxWritten.get(r.tx_id)));
    }
    expect(transientRetries).toBeLessThan(40); // key-ordered writes keep deadlocks rare
  });
});

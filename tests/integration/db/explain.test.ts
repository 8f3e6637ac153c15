// The three Admin API queries are served by index scans (SPEC §3), proven on realistic statistics:
// 20k entries / orders under a unique prefix (half of the entries in one busy wallet, the rest spread over 200
// wallets), ANALYZE, then EXPLAIN — no Seq Scan node; a busy wallet's page is read in index order (no Sort).
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getLedgerEntries } from '../../../db/lookups';
import { createPool } from '../../../db/pool';
import { databaseUrl, setupPool, uniquePrefix } from './support';

let pool: pg.Pool;
const prefix = uniquePrefix('explain');
const ROWS = 20_000;
const WALLETS = 200;

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

async function explain(text: string, values: unknown[]): Promise<PlanNode[]> {
  const res = await pool.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
    `EXPLAIN (FORMAT JSON) ${text}`,
    values,
  );
  return nodes(res.rows[0]!['QUERY PLAN'][0]!.Plan);
}

beforeAll(async () => {
  pool = await setupPool();
  await pool.query(
    `INSERT INTO bo.ledger_entries (tx_id, wallet_id, entry_type, amount, currency, related_id, related_type, event_time,
                                    updated_at, source_version, ingested_at, source)
     SELECT $1 || 'tx-' || g, CASE WHEN g % 2 = 0 THEN $1 || 'w-busy' ELSE $1 || 'w-' || (g % $2) END, CASE WHEN g % 2 = 0 THEN 'PAYMENT' ELSE 'RECEIVE' END, (g * 10)::numeric,
            'KRW', $1 || 'ord-' || (g / 2), 'PAYMENT_ORDER', timestamptz '2025-01-01' + g * interval '1 minute',
            NULL, 1, now(), 'backfill'
     FROM generate_series(1, $3) g`,
    [prefix, WALLETS, ROWS],
  );
  await pool.query(
    `INSERT INTO bo.payment_orders (order_id, status, status_group, amount, currency, payer_wallet_id, payee_wallet_id,
                                    event_time, updated_at, source_version, ingested_at, source)
     SELECT $1 || 'ord-' || g, 'PAID', 'SUCCESS', g::numeric, 'KRW', 'p', 'q', timestamptz '2025-01-01' + g * interval '1 minute',
            NULL, 1, now(), 'backfill'
     FROM generate_series(1, $2) g`,
    [prefix, ROWS],
  );
  await pool.query('ANALYZE bo.ledger_entries');
  await pool.query('ANALYZE bo.payment_orders');
});

afterAll(async () => {
  await pool.query(`DELETE FROM bo.ledger_entries WHERE tx_id LIKE $1`, [`${prefix}%`]);
  await pool.query(`DELETE FROM bo.payment_orders WHERE order_id LIKE $1`, [`${prefix}%`]);
  await pool.end();
});

const types = (ns: PlanNode[]) => ns.map((n) => n['Node Type']);
const indexes = (ns: PlanNode[]) => ns.flatMap((n) => (n['Index Name'] ? [n['Index Name']] : []));

describe('EXPLAIN of the API queries (no enable_seqscan tricks)', () => {
  it('(a) entry by tx_id uses the primary key', async () => {
    const plan = await explain(`SELECT * FROM bo.ledger_entries WHERE tx_id = $1`, [`${prefix}tx-777`]);
    expect(types(plan)).not.toContain('Seq Scan');
    expect(indexes(plan)).toContain('ledger_entries_pkey');
  });

  const page = `SELECT * FROM bo.ledger_entries WHERE wallet_id = $1 AND (event_time, tx_id) < ($2, $3)
                ORDER BY event_time DESC, tx_id DESC LIMIT 51`;
  const firstPage = `SELECT * FROM bo.ledger_entries WHERE wallet_id = $1 ORDER BY event_time DESC, tx_id DESC LIMIT 51`;

  it('(b) a busy wallet page by keyset is an ordered scan of (wallet_id, event_time desc, tx_id desc): no Sort', async () => {
    for (const plan of [
      await explain(page, [`${prefix}w-busy`, '2025-01-10T00:00:00Z', `${prefix}tx-9999`]),
      await explain(firstPage, [`${prefix}w-busy`]),
    ]) {
      expect(types(plan)).not.toContain('Seq Scan');
      expect(types(plan)).not.toContain('Sort');
      expect(types(plan)).toContain('Index Scan');
      expect(indexes(plan)).toContain('ledger_entries_wallet_time_idx');
    }
  });

  it('(b) a small wallet page uses the same index (the planner may sort its few rows)', async () => {
    for (const plan of [
      await explain(page, [`${prefix}w-7`, '2025-01-10T00:00:00Z', `${prefix}tx-9999`]),
      await explain(firstPage, [`${prefix}w-7`]),
    ]) {
      expect(types(plan)).not.toContain('Seq Scan');
      expect(indexes(plan)).toContain('ledger_entries_wallet_time_idx');
    }
  });

  it('(c) entries by related_id and the order by order_id use their indexes', async () => {
    const related = await explain(`SELECT * FROM bo.ledger_entries WHERE related_id = $1`, [
      `${prefix}ord-42`,
    ]);
    expect(types(related)).not.toContain('Seq Scan');
    expect(indexes(related)).toContain('ledger_entries_related_id_idx');
    const ord = await explain(`SELECT * FROM bo.payment_orders WHERE order_id = $1`, [`${prefix}ord-42`]);
    expect(types(ord)).not.toContain('Seq Scan');
    expect(indexes(ord)).toContain('payment_orders_pkey');
    const pair = await explain(`SELECT * FROM bo.payment_ledger_pairs WHERE related_id = $1`, [
      `${prefix}ord-42`,
    ]);
    expect(types(pair)).not.toContain('Seq Scan');
  });
});

describe('the coalesced tx lookup planned once per session (the API pool option genericPlans)', () => {
  const ids = [`${prefix}tx-777`, `${prefix}tx-778`, `${prefix}absent`];
  /** How the named statement bo_api_tx_get_many was planned so far on the pool's one session. */
  async function plansOf(one: pg.Pool) {
    const res = await one.query<{ generic_plans: string; custom_plans: string }>(
      `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'bo_api_tx_get_many'`,
    );
    return { generic: Number(res.rows[0]?.generic_plans), custom: Number(res.rows[0]?.custom_plans) };
  }

  it('is never re-planned with genericPlans, where a default session plans it again on every call', async () => {
    const generic = createPool(databaseUrl(), 1, { genericPlans: true });
    const plain = createPool(databaseUrl(), 1);
    try {
      expect((await generic.query('SHOW plan_cache_mode')).rows[0]).toEqual({
        plan_cache_mode: 'force_generic_plan',
      });
      for (let i = 0; i < 8; i++) {
        const [a, b] = [await getLedgerEntries(generic, ids), await getLedgerEntries(plain, ids)];
        expect([...a.keys()].sort()).toEqual([`${prefix}tx-777`, `${prefix}tx-778`]);
        expect([...b.entries()]).toEqual([...a.entries()]);
      }
      expect(await plansOf(generic)).toEqual({ generic: 8, custom: 0 });
      // PostgreSQL estimates the generic plan of `= ANY($1)` (10 rows) dearer than a custom one and keeps the latter.
      expect((await plansOf(plain)).custom).toBe(8);
    } finally {
      await Promise.all([generic.end(), plain.end()]);
    }
  });

  it('its generic plan uses the primary key, no Seq Scan', async () => {
    const generic = createPool(databaseUrl(), 1, { genericPlans: true });
    try {
      await getLedgerEntries(generic, ids);
      const res = await generic.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
        // EXECUTE takes no bind parameters: the ids go in as a literal (they hold no quote).
        `EXPLAIN (FORMAT JSON) EXECUTE bo_api_tx_get_many('{${ids.join(',')}}')`,
      );
      const plan = nodes(res.rows[0]!['QUERY PLAN'][0]!.Plan);
      expect(types(plan)).not.toContain('Seq Scan');
      expect(indexes(plan)).toContain('ledger_entries_pkey');
    } finally {
      await generic.end();
    }
  });
});

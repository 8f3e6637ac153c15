// The per-batch statements run as named prepared statements, i.e. with a GENERIC plan after five executions.
// In a generic plan unnest($n) is estimated at 10 rows; a nested loop between two CTEs would then be quadratic
// in the batch size. This checks every statement variant's generic plan: no Nested Loop anywhere.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LEDGER_SPEC,
  ORDER_SPEC,
  batchSql,
  dlqInsertSql,
  mergeSql,
  unnestSource,
} from '../../../db/merge-sql';
import { setupPool } from './support';

let pool: pg.Pool;

beforeAll(async () => {
  pool = await setupPool();
});
afterAll(async () => {
  await pool.end();
});

const LEDGER_PARAMS = 1 + LEDGER_SPEC.columns.length;
const ORDER_PARAMS = 1 + ORDER_SPEC.columns.length;
const DLQ_PARAMS = 12;

const variants: [string, string, number][] = [
  ['merge ledger', mergeSql(LEDGER_SPEC, 'consumer', unnestSource(LEDGER_SPEC), 'rows'), LEDGER_PARAMS],
  ['merge orders', mergeSql(ORDER_SPEC, 'replay', unnestSource(ORDER_SPEC), 'rows'), ORDER_PARAMS],
  ['insert dlq', dlqInsertSql(), DLQ_PARAMS],
];
for (const ledger of [false, true]) {
  for (const orders of [false, true]) {
    for (const dlq of [false, true]) {
      if (!ledger && !orders && !dlq) continue;
      const params = (ledger ? LEDGER_PARAMS : 0) + (orders ? ORDER_PARAMS : 0) + (dlq ? DLQ_PARAMS : 0);
      variants.push([
        `batch ledger=${ledger} orders=${orders} dlq=${dlq}`,
        batchSql('consumer', { ledger, orders, dlq }),
        params,
      ]);
    }
  }
}

describe('generic plans of the per-batch statements', () => {
  it.each(variants)('%s: no nested loop', async (_name, text, params) => {
    const client = await pool.connect();
    try {
      await client.query('SET plan_cache_mode = force_generic_plan');
      await client.query(`PREPARE plan_check AS ${text}`);
      const res = await client.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN EXECUTE plan_check(${Array.from({ length: params }, () => 'NULL').join(', ')})`,
      );
      const plan = res.rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toMatch(/Insert on/); // it is the real statement
      expect(plan).not.toMatch(/Nested Loop/);
    } finally {
      await client.query('DEALLOCATE ALL').catch(() => undefined);
      await client.query('RESET plan_cache_mode').catch(() => undefined);
      client.release();
    }
  });
});

// pairing_pairs / pairing_incomplete_pairs are sampled from the real pairs table at scrape time.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { registry } from '../../../core/metrics';
import { registerPairingGauges, samplePairCounts } from '../../../db/pairing-stats';
import { createPool } from '../../../db/pool';

const pool = createPool(undefined, 2);
const prefix = `t-pstat-${randomBytes(4).toString('hex')}-`;

beforeAll(async () => {
  await pool.query(
    `insert into bo.payment_ledger_pairs (related_id, payment_tx_id, receive_tx_id, pairing_status, first_seen_at, completed_at)
     values ($1, 'p1', 'r1', 'COMPLETE', now(), now()), ($2, 'p2', null, 'INCOMPLETE', now(), null)`,
    [`${prefix}a`, `${prefix}b`],
  );
});
afterAll(async () => {
  await pool.query('delete from bo.payment_ledger_pairs where related_id like $1', [`${prefix}%`]);
  await pool.end();
});

it('exposes the pair counts on /metrics, matching the table', async () => {
  registerPairingGauges(pool);
  const body = await registry.metrics();
  const counts = await samplePairCounts(pool);
  expect(counts.pairs).toBeGreaterThanOrEqual(2);
  expect(counts.incomplete).toBeGreaterThanOrEqual(1);
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(body)?.[1]);
  expect(value('pairing_pairs')).toBe(counts.pairs);
  expect(value('pairing_incomplete_pairs')).toBe(counts.incomplete);
});

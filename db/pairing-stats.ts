// pairing_pairs / pairing_incomplete_pairs gauges (alert PairIncompleteRatioHigh): sampled from the pairs
// table at scrape time, at most every 30 s, so a scrape never costs more than one cheap count per window.
import type pg from 'pg';
import { logger } from '../core/log';
import { pairingIncompletePairs, pairingPairs } from '../core/metrics';
import { onCollect } from './pool';

const SAMPLE_MS = 30_000;

export async function samplePairCounts(pool: pg.Pool): Promise<{ pairs: number; incomplete: number }> {
  const { rows } = await pool.query<{ pairs: string; incomplete: string }>(
    `SELECT count(*) AS pairs, count(*) FILTER (WHERE pairing_status = 'INCOMPLETE') AS incomplete
       FROM bo.payment_ledger_pairs`,
  );
  return { pairs: Number(rows[0]?.pairs ?? 0), incomplete: Number(rows[0]?.incomplete ?? 0) };
}

/** Registers the sampling on this process's registry; the API process does (api/main.ts), so the gauges are on its /metrics. */
export function registerPairingGauges(pool: pg.Pool): void {
  let last = 0;
  let inflight: Promise<void> | null = null;
  const refresh = async (): Promise<void> => {
    if (Date.now() - last < SAMPLE_MS) return;
    inflight ??= (async () => {
      try {
        const c = await samplePairCounts(pool);
        pairingPairs.set(c.pairs);
        pairingIncompletePairs.set(c.incomplete);
        last = Date.now();
      } catch (err) {
        logger('db').warn('pair count sample failed', { err });
      } finally {
        inflight = null;
      }
    })();
    await inflight;
  };
  onCollect(pairingPairs, refresh);
  onCollect(pairingIncompletePairs, refresh);
}

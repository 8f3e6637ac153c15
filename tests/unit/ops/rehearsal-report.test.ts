import { describe, expect, it } from 'vitest';
import { canonicalPayload } from '../../../activities/payload-hash';
import { ROLLBACK_RULE, renderRehearsalReport } from '../../../activities/report';
import type { CutoverRehearsalResult } from '../../../workflows/types';

describe('canonicalPayload (idempotency hash input)', () => {
  it('ignores key order and the volatile fields event_time, data_lag_sec, ingested_at', () => {
    const a = {
      tx_id: 't',
      amount: '1.00',
      ingested_at: '2026-01-01T00:00:00.000Z',
      data_lag_sec: 0.1,
      event_time: 'x',
      nested: { b: 1, a: 2 },
    };
    const b = {
      nested: { a: 2, b: 1 },
      event_time: 'y',
      data_lag_sec: 9,
      amount: '1.00',
      tx_id: 't',
      ingested_at: '2027-01-01T00:00:00.000Z',
    };
    expect(canonicalPayload(a)).toBe(canonicalPayload(b));
  });
  it('sees every other difference, including amount scale and null vs missing', () => {
    expect(canonicalPayload({ amount: '1.0' })).not.toBe(canonicalPayload({ amount: '1.00' }));
    expect(canonicalPayload({ status: null })).not.toBe(canonicalPayload({}));
    expect(canonicalPayload([1, 2])).not.toBe(canonicalPayload([2, 1]));
  });
});

describe('rehearsal report', () => {
  const result: CutoverRehearsalResult = {
    verdict: 'NO_GO',
    reason: 'SMOKE_FAILED',
    detail: 'tx-9: expected 404, got 200',
    steps: [
      { name: 'preflight', status: 'ok', durationSec: 0.2, counts: { db: 'PostgreSQL 15' } },
      { name: 'smoke', status: 'failed', durationSec: 0.1, error: 'tx-9: expected 404, got 200' },
      { name: 'idempotency', status: 'skipped' },
    ],
    evidence: {
      runId: 'cutover-1',
      tCutover: '2026-02-24T10:00:00.000Z',
      syncFrom: '2026-02-24T09:55:00.000Z',
      consumerGroup: 'bo-sync-local-rehearsal-v1',
      dumpPath: 'var/demo/dump',
      smoke: { ok: false, checks: [{ txId: 'tx-9', expected: 404, got: 200, ok: false }] },
    },
  };
  it('states the verdict, T_cutover, group, steps and the rollback rule for the reason', () => {
    const md = renderRehearsalReport(result);
    expect(md).toContain('**Verdict: NO_GO** — reason `SMOKE_FAILED`');
    expect(md).toContain('2026-02-24T10:00:00.000Z');
    expect(md).toContain('bo-sync-local-rehearsal-v1');
    expect(md).toMatch(/\| smoke \| failed \| 0\.10 \|/);
    expect(md).toContain('roll back the deploy');
    expect(md).toContain(ROLLBACK_RULE.SMOKE_FAILED);
  });
  it('says when the run is not in bo.ops_runs (database down), and only then', () => {
    expect(renderRehearsalReport(result)).not.toContain('## Run record');
    const md = renderRehearsalReport({
      ...result,
      reason: 'ENVIRONMENT_BLOCKED',
      evidence: {
        ...result.evidence,
        runRecordErrors: ['final row not recorded in bo.ops_runs: Error: connect ECONNREFUSED 127.0.0.1:1'],
      },
    });
    expect(md).toContain('## Run record');
    expect(md).toContain('not recorded in bo.ops_runs');
    expect(md).toContain('- final row not recorded in bo.ops_runs: Error: connect ECONNREFUSED 127.0.0.1:1');
  });
  it('has a rollback rule for every reason', () => {
    for (const r of [
      'NONE',
      'ENVIRONMENT_BLOCKED',
      'MIGRATION_FAILED',
      'BACKFILL_FAILED',
      'SYNC_TIMEOUT',
      'SMOKE_FAILED',
      'IDEMPOTENCY_FAILED',
    ] as const) {
      expect(ROLLBACK_RULE[r].length).toBeGreaterThan(10);
    }
  });
});

// Workflow orchestration tested with @temporalio/testing on a local dev server (the CLI built by ops/stack)
// and stubbed activities: the verdict/reason mapping of every step, step order, progress and cancellation.
// The real activities against PostgreSQL, Kafka and the API are exercised in rehearsal.test.ts.
import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { createActivities } from '../../../activities';
import type { CutoverRehearsalResult, RehearsalProgress } from '../../../workflows/types';
import { temporalBinary, workflowBundle } from '../../support/temporal';

type Activities = ReturnType<typeof createActivities>;

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: temporalBinary() }, ip: '127.0.0.1' },
  });
}, 120_000);

afterAll(async () => {
  await env?.teardown();
});

/** Activities that pass, with overrides per test; calls are recorded in order. */
function stubActivities(overrides: Partial<Record<keyof Activities, (...args: never[]) => unknown>> = {}) {
  const calls: string[] = [];
  const base: Record<string, (...args: never[]) => unknown> = {
    defaultRehearsalGroup: async () => 'bo-sync-test-rehearsal-v1',
    defaultDumpPath: async () => '/dumps/demo',
    preflight: async () => ({ db: 'PostgreSQL 15', kafka: 'ok' }),
    migrate: async () => ({ current: '0002', head: '0002', applied: [] }),
    backfill: async () => ({
      checkpointId: 'c',
      linesRead: 10,
      rowsApplied: 10,
      rowsDlq: 0,
      rowsSkippedAfterUntil: 2,
      resumedFromLine: 0,
      resumedAfterCrash: false,
      seconds: 0.1,
    }),
    syncWindow: async (i: { groupId: string; startAt: string }) => ({
      groupId: i.groupId,
      startAt: i.startAt,
      caughtUp: true,
      lagAtEnd: 0,
      consumed: 5,
      applied: 5,
      dlq: 0,
      seconds: 0.1,
    }),
    sampleTxIds: async () => ['tx-1', 'tx-2'],
    smoke: async (i: { present: string[]; absent: string[] }) => ({
      ok: true,
      checks: [
        ...i.present.map((txId) => ({ txId, expected: 200, got: 200, ok: true })),
        ...i.absent.map((txId) => ({ txId, expected: 404, got: 404, ok: true })),
      ],
    }),
    hashApiPayloads: async (i: { txIds: string[] }) => ({
      hash: 'h',
      perId: Object.fromEntries(i.txIds.map((t) => [t, 'x'])),
    }),
    recordRunStarted: async () => undefined,
    recordRunFinished: async () => ({ reportPath: '/evidence/report.md' }),
    writeRunReport: async () => ({ reportPath: '/evidence/report-only.md' }),
    replayDlq: async (i: { runId: string; dryRun?: boolean }) => ({
      runId: i.runId,
      dryRun: i.dryRun ?? false,
      matched: 3,
      applied: 2,
      stillFailing: 1,
      skipped: 0,
    }),
    publishRegressionEvents: async () => ({}),
    verifyRegression: async () => [{ name: 'api_200', ok: true, detail: '' }],
    ...overrides,
  };
  const recorded = Object.fromEntries(
    Object.entries(base).map(([name, fn]) => [
      name,
      async (...args: never[]) => {
        calls.push(name);
        return fn(...args);
      },
    ]),
  );
  return { activities: recorded, calls };
}

/** Runs one workflow on a fresh task queue with a worker of the given activities until it ends. */
async function runWorkflow<T>(
  workflow: string,
  activities: Record<string, unknown>,
  input: unknown,
): Promise<T> {
  const taskQueue = `wf-logic-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
  });
  return worker.runUntil(
    env.client.workflow.execute(workflow, {
      taskQueue,
      workflowId: `${workflow}-${randomUUID()}`,
      args: [input],
    }) as Promise<T>,
  );
}

function runRehearsal(activities: Record<string, unknown>, input: Record<string, unknown> = {}) {
  return runWorkflow<CutoverRehearsalResult>('cutoverRehearsal', activities, input);
}

const fail =
  (type: string, msg = 'boom') =>
  async () => {
    throw ApplicationFailure.nonRetryable(msg, type);
  };

describe('cutoverRehearsal orchestration', () => {
  it('GO: runs preflight, migrate, backfill, sync, smoke, idempotency in order with defaults', async () => {
    const { activities, calls } = stubActivities();
    const r = await runRehearsal(activities);
    expect(r.verdict).toBe('GO');
    expect(r.reason).toBe('NONE');
    expect(r.steps.map((s) => [s.name, s.status])).toEqual([
      ['preflight', 'ok'],
      ['migrate', 'ok'],
      ['backfill', 'ok'],
      ['sync', 'ok'],
      ['smoke', 'ok'],
      ['idempotency', 'ok'],
    ]);
    expect(
      calls
        .filter((c) => ['preflight', 'migrate', 'backfill', 'syncWindow', 'smoke'].includes(c))
        .slice(0, 5),
    ).toEqual(['preflight', 'migrate', 'backfill', 'syncWindow', 'smoke']);
    expect(r.evidence.consumerGroup).toBe('bo-sync-test-rehearsal-v1');
    expect(r.evidence.dumpPath).toBe('/dumps/demo');
    // buffer default 5 minutes
    expect(new Date(r.evidence.tCutover).getTime() - new Date(r.evidence.syncFrom).getTime()).toBe(
      5 * 60_000,
    );
    expect(r.evidence.reportPath).toBe('/evidence/report.md');
  });

  const cases: [string, Partial<Record<keyof Activities, (...a: never[]) => unknown>>, string, string][] = [
    [
      'preflight failure',
      { preflight: fail('Error', 'Kafka at 127.0.0.1:1 is not usable') },
      'ENVIRONMENT_BLOCKED',
      'preflight',
    ],
    ['migration error', { migrate: fail('MigrationChecksumError') }, 'MIGRATION_FAILED', 'migrate'],
    [
      'migration not at head',
      { migrate: async () => ({ current: '0001', head: '0002', applied: [] }) },
      'MIGRATION_FAILED',
      'migrate',
    ],
    ['bad dump', { backfill: fail('BackfillInputError', 'dump not found') }, 'BACKFILL_FAILED', 'backfill'],
    [
      'sync not caught up',
      {
        syncWindow: async () => ({
          groupId: 'g',
          startAt: '',
          caughtUp: false,
          lagAtEnd: 42,
          consumed: 1,
          applied: 1,
          dlq: 0,
          seconds: 1,
        }),
      },
      'SYNC_TIMEOUT',
      'sync',
    ],
    [
      'smoke mismatch',
      {
        smoke: async () => ({
          ok: false,
          checks: [{ txId: 'tx-absent', expected: 404, got: 200, ok: false }],
        }),
      },
      'SMOKE_FAILED',
      'smoke',
    ],
  ];
  for (const [name, overrides, reason, failedStep] of cases) {
    it(`NO_GO ${reason}: ${name}`, async () => {
      const { activities } = stubActivities(overrides);
      const r = await runRehearsal(activities);
      expect(r.verdict).toBe('NO_GO');
      expect(r.reason).toBe(reason);
      const idx = r.steps.findIndex((s) => s.name === failedStep);
      expect(r.steps[idx]?.status).toBe('failed');
      expect(r.steps.slice(idx + 1).every((s) => s.status === 'skipped')).toBe(true);
    });
  }

  it('NO_GO ENVIRONMENT_BLOCKED, returned, when the DB is down: the run record is best effort, the report is written', async () => {
    const reports: { status: string; result: CutoverRehearsalResult }[] = [];
    const dbDown = async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:1'); // retryable, as a pg error is
    };
    const { activities, calls } = stubActivities({
      recordRunStarted: dbDown,
      recordRunFinished: dbDown,
      preflight: fail('Error', 'PostgreSQL at 127.0.0.1:1/txlookup is not reachable'),
      writeRunReport: async (i: { status: string; result: CutoverRehearsalResult }) => {
        reports.push(i);
        return { reportPath: '/evidence/report-only.md' };
      },
    });
    const r = await runRehearsal(activities);
    expect(r).toMatchObject({ verdict: 'NO_GO', reason: 'ENVIRONMENT_BLOCKED' });
    expect(r.steps.map((s) => s.status)).toEqual([
      'failed',
      'skipped',
      'skipped',
      'skipped',
      'skipped',
      'skipped',
    ]);
    // A few quick attempts each (not the 5 of the other activities), then the rehearsal goes on without them.
    expect(calls.filter((c) => c === 'recordRunStarted')).toHaveLength(3);
    expect(calls.filter((c) => c === 'recordRunFinished')).toHaveLength(3);
    expect(r.evidence.reportPath).toBe('/evidence/report-only.md');
    expect(r.evidence.runRecordErrors).toEqual([
      expect.stringContaining('ECONNREFUSED'),
      expect.stringContaining('ECONNREFUSED'),
    ]);
    expect(reports).toHaveLength(1);
    expect(reports[0]?.status).toBe('NO_GO');
    expect(reports[0]?.result.evidence.runRecordErrors).toHaveLength(2);
  });

  it('sampling the present ids is part of the smoke step: a DB failure there is ENVIRONMENT_BLOCKED', async () => {
    const { activities } = stubActivities({ sampleTxIds: fail('Error', 'connect ECONNREFUSED 127.0.0.1:1') });
    const r = await runRehearsal(activities);
    expect(r).toMatchObject({ verdict: 'NO_GO', reason: 'ENVIRONMENT_BLOCKED' });
    const smoke = r.steps.find((s) => s.name === 'smoke');
    expect(smoke?.status).toBe('failed');
    expect(smoke?.error).toContain('could not sample tx ids');
    expect(r.steps.find((s) => s.name === 'idempotency')?.status).toBe('skipped');
  });

  it('NO_GO SMOKE_FAILED (inside the smoke step) when the sample is empty', async () => {
    const { activities } = stubActivities({ sampleTxIds: async () => [] });
    const r = await runRehearsal(activities);
    expect(r).toMatchObject({ verdict: 'NO_GO', reason: 'SMOKE_FAILED' });
    expect(r.steps.find((s) => s.name === 'smoke')?.error).toContain('backfill loaded nothing');
  });

  it('NO_GO IDEMPOTENCY_FAILED when the payload hash changes across the replay', async () => {
    let n = 0;
    const { activities } = stubActivities({
      hashApiPayloads: async (i: { txIds: string[] }) => {
        n += 1;
        return {
          hash: `h${n}`,
          perId: Object.fromEntries(i.txIds.map((t) => [t, t === 'tx-2' ? `v${n}` : 'same'])),
        };
      },
    });
    const r = await runRehearsal(activities, { idempotency: { txIds: ['tx-1', 'tx-2'] } });
    expect(r.verdict).toBe('NO_GO');
    expect(r.reason).toBe('IDEMPOTENCY_FAILED');
    expect(r.evidence.idempotency?.mismatched).toEqual(['tx-2']);
  });

  it('uses the ids and group given in the input', async () => {
    const seen: unknown[] = [];
    const { activities, calls } = stubActivities({
      smoke: async (i: { present: string[]; absent: string[] }) => {
        seen.push(i);
        return { ok: true, checks: [] };
      },
    });
    const r = await runRehearsal(activities, {
      tCutover: '2026-02-24T10:00:00.000Z',
      bufferMinutes: 10,
      consumerGroup: 'bo-sync-test-me-v9',
      smoke: { presentTxIds: ['a'], absentTxIds: ['b'] },
    });
    expect(r.verdict).toBe('GO');
    expect(seen).toEqual([{ present: ['a'], absent: ['b'] }]);
    expect(r.evidence.syncFrom).toBe('2026-02-24T09:50:00.000Z');
    expect(r.evidence.consumerGroup).toBe('bo-sync-test-me-v9');
    expect(calls).not.toContain('defaultRehearsalGroup');
  });

  it('answers the progress query and stops cleanly on cancel, recording the run as CANCELLED', async () => {
    const finished: unknown[] = [];
    let release: () => void = () => undefined;
    const { activities } = stubActivities({
      // A backfill that only ends when cancelled (it heartbeats, as the real one does).
      backfill: async () => {
        const { Context } = await import('@temporalio/activity');
        const ctx = Context.current();
        await new Promise<void>((resolve, reject) => {
          release = resolve;
          const t = setInterval(() => ctx.heartbeat(), 200);
          ctx.cancellationSignal.addEventListener('abort', () => {
            clearInterval(t);
            reject(ctx.cancellationSignal.reason);
          });
        });
        return {};
      },
      recordRunFinished: async (i: { status: string }) => {
        finished.push(i.status);
        return { reportPath: '/r.md' };
      },
    });
    const taskQueue = `wf-logic-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities,
    });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start('cutoverRehearsal', {
        taskQueue,
        workflowId: `rehearsal-${randomUUID()}`,
        args: [{}],
      });
      let p: RehearsalProgress | undefined;
      for (let i = 0; i < 100; i++) {
        p = await handle.query<RehearsalProgress>('progress');
        if (p.currentStep === 'backfill') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(p?.currentStep).toBe('backfill');
      expect(p?.steps.find((s) => s.name === 'migrate')?.status).toBe('ok');
      await handle.cancel();
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    });
    release();
    expect(finished).toEqual(['CANCELLED']);
  });
});

describe('dlqReplay and l3Regression orchestration', () => {
  it('dlqReplay returns the counts and records the run', async () => {
    const { activities } = stubActivities();
    const taskQueue = `wf-logic-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities,
    });
    const r = await worker.runUntil(
      env.client.workflow.execute('dlqReplay', {
        taskQueue,
        workflowId: `dlq-${randomUUID()}`,
        args: [{ dryRun: true }],
      }),
    );
    expect(r).toMatchObject({
      dryRun: true,
      matched: 3,
      applied: 2,
      stillFailing: 1,
      skipped: 0,
      reportPath: '/evidence/report.md',
    });
  });

  /** Runs one workflow on a fresh queue; resolves to its result or its failure. */
  async function outcomeOf(workflow: string, activities: Record<string, unknown>, input: unknown) {
    return runWorkflow(workflow, activities, input).then(
      (result: unknown) => ({ result, error: undefined }),
      (error: unknown) => ({ result: undefined, error }),
    );
  }
  const finishedStatuses = (calls: unknown[]) => calls.map((c) => (c as { status: string }).status);

  it('dlqReplay: an InvalidInputError fails the workflow with its message, and the run is recorded FAILED', async () => {
    const finished: unknown[] = [];
    const { activities, calls } = stubActivities({
      replayDlq: fail('InvalidInputError', 'unknown DLQ reason "NOT_A_REASON"; known: INVALID_JSON'),
      recordRunFinished: async (i: unknown) => {
        finished.push(i);
        return { reportPath: '/r.md' };
      },
    });
    const { error } = await outcomeOf('dlqReplay', activities, { reason: 'NOT_A_REASON' });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe('InvalidInputError');
    expect(cause.message).toContain('NOT_A_REASON');
    expect(calls.filter((c) => c === 'replayDlq')).toHaveLength(1);
    expect(finished).toEqual([expect.objectContaining({ status: 'FAILED', reason: 'InvalidInputError' })]);
  });

  it('cutoverRehearsal: bad numeric input fails at once, naming the field, before any activity', async () => {
    for (const input of [
      { bufferMinutes: -5 },
      { syncTimeoutSec: 'soon' },
      { syncTimeoutSec: 0 },
      { idempotency: { sampleSize: 2.5 } },
      { idempotency: { sampleSize: 0 } },
    ]) {
      const { activities, calls } = stubActivities();
      const { error } = await outcomeOf('cutoverRehearsal', activities, input);
      const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause?.type, JSON.stringify(input)).toBe('InvalidInputError');
      const field = 'idempotency' in input ? 'idempotency.sampleSize' : Object.keys(input)[0]!;
      expect(cause.message).toContain(field);
      expect(calls).toEqual([]);
    }
  });

  it('l3Regression: bad input fails before publishing anything, and the run is recorded FAILED', async () => {
    for (const input of [{ syncTimeoutSec: -1 }, { syncTimeoutSec: '60' }, { freshnessSloSec: 0 }]) {
      const finished: unknown[] = [];
      const { activities, calls } = stubActivities({
        recordRunFinished: async (i: unknown) => {
          finished.push(i);
          return { reportPath: '/r.md' };
        },
      });
      const { error } = await outcomeOf('l3Regression', activities, input);
      const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause?.type, JSON.stringify(input)).toBe('InvalidInputError');
      expect(cause.message).toContain(Object.keys(input)[0]);
      expect(calls).not.toContain('publishRegressionEvents');
      expect(finishedStatuses(finished)).toEqual(['FAILED']);
    }
  });

  it('l3Regression: an activity out of retries still records the run FAILED (no row left RUNNING)', async () => {
    const finished: unknown[] = [];
    const { activities } = stubActivities({
      publishRegressionEvents: fail('KafkaJSConnectionError', 'Connection error: connect ECONNREFUSED'),
      recordRunFinished: async (i: unknown) => {
        finished.push(i);
        return { reportPath: '/r.md' };
      },
    });
    const { error } = await outcomeOf('l3Regression', activities, {});
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(finished).toEqual([
      expect.objectContaining({ status: 'FAILED', reason: 'KafkaJSConnectionError' }),
    ]);
  });

  it('l3Regression fails the workflow (red in the UI) when a check fails', async () => {
    const { activities } = stubActivities({
      verifyRegression: async () => [{ name: 'dlq_row', ok: false, detail: 'missing' }],
    });
    const taskQueue = `wf-logic-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities,
    });
    await expect(
      worker.runUntil(
        env.client.workflow.execute('l3Regression', {
          taskQueue,
          workflowId: `l3-${randomUUID()}`,
          args: [{}],
        }),
      ),
    ).rejects.toThrow(WorkflowFailedError);
  });
});

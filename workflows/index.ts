// Ops workflows (SPEC §6). Orchestration only: deterministic code that calls activities by type.
// All I/O (DB, Kafka, HTTP, files) happens in activities/.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type {
  CutoverRehearsalInput,
  CutoverRehearsalResult,
  DlqReplayInput,
  DlqReplayResult,
  L3RegressionInput,
  L3RegressionResult,
  RehearsalEvidence,
  RehearsalProgress,
  RehearsalReason,
  RehearsalStepName,
  StepRecord,
} from './types';

type Activities = ReturnType<typeof createActivities>;

/** Errors that retrying cannot fix (a bad dump path is not retried 100 times). */
const NON_RETRYABLE = ['BackfillInputError', 'MigrationChecksumError', 'ConfigError', 'InvalidInputError'];

const quick = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumAttempts: 5,
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
});
const preflightActivities = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});
// The rehearsal's run record is bookkeeping: a few quick attempts, then the rehearsal carries on without it,
// so a database outage ends in NO_GO ENVIRONMENT_BLOCKED and a report rather than in a failed workflow.
const bookkeeping = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});
// Long activities heartbeat; a worker crash is detected within heartbeatTimeout and the retry resumes
// from the activity's checkpoint (DB checkpoint + heartbeat details).
const longRunning = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '20 seconds',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 10,
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
});

export const progressQuery = defineQuery<RehearsalProgress>('progress');

class StepFailed extends Error {
  constructor(
    readonly reason: RehearsalReason,
    message: string,
  ) {
    super(message);
  }
}

function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return `${err.cause.name}: ${err.cause.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** The failure's type for bo.ops_runs.reason: the ApplicationFailure type (e.g. InvalidInputError) when there is one. */
function failureType(err: unknown): string {
  const inner = err instanceof ActivityFailure && err.cause ? err.cause : err;
  if (inner instanceof ApplicationFailure && inner.type) return inner.type;
  return inner instanceof Error ? inner.name : 'Error';
}

export async function cutoverRehearsal(input: CutoverRehearsalInput = {}): Promise<CutoverRehearsalResult> {
  const info = workflowInfo();
  const runId = info.workflowId;
  const startedAt = new Date(Date.now());
  const tCutover = input.tCutover ? new Date(input.tCutover) : startedAt;
  if (Number.isNaN(tCutover.getTime())) {
    throw ApplicationFailure.nonRetryable(
      `tCutover is not a timestamp: ${input.tCutover}`,
      'InvalidInputError',
    );
  }
  // Checked before anything runs: a typo in the UI's JSON fails at once, naming the field.
  const bufferMinutes = numberInput('bufferMinutes', input.bufferMinutes, 5, {
    min: 0,
    max: 7 * 24 * 60,
    unit: 'minutes',
  });
  const syncFrom = new Date(tCutover.getTime() - bufferMinutes * 60_000);
  const syncTimeoutSec = seconds('syncTimeoutSec', input.syncTimeoutSec, 300, 24 * 3600);
  const sampleSize = numberInput('idempotency.sampleSize', input.idempotency?.sampleSize, 20, {
    min: 1,
    max: 10_000,
    integer: true,
  });
  const checkpointId = `rehearsal-${runId}`;

  // The query handler is registered before the first await so `progress` answers from the first moment.
  const names: RehearsalStepName[] = ['preflight', 'migrate', 'backfill', 'sync', 'smoke', 'idempotency'];
  const steps: StepRecord[] = names.map((name) => ({ name, status: 'pending' }));
  const progress: RehearsalProgress = { runId, currentStep: 'preflight', phase: 'starting', steps };
  setHandler(progressQuery, () => progress);

  const consumerGroup =
    input.consumerGroup ?? (await quick.defaultRehearsalGroup({ startedAtMs: startedAt.getTime() }));
  const dumpPath = input.dumpPath ?? (await quick.defaultDumpPath());
  const evidence: RehearsalEvidence = {
    runId,
    tCutover: tCutover.toISOString(),
    syncFrom: syncFrom.toISOString(),
    consumerGroup,
    dumpPath,
  };

  function noteRunRecordError(what: string, err: unknown): void {
    (evidence.runRecordErrors ??= []).push(`${what}: ${failureMessage(err)}`);
  }
  try {
    await bookkeeping.recordRunStarted({
      runId,
      kind: 'cutover_rehearsal',
      workflowId: info.workflowId,
      input,
    });
  } catch (err) {
    if (isCancellation(err)) throw err;
    noteRunRecordError('RUNNING row not recorded in bo.ops_runs', err);
  }

  /** The final bo.ops_runs row and the report; without a database, the report alone (which says so). */
  async function recordFinished(
    status: string,
    runReason: RehearsalReason | null,
    result: unknown,
  ): Promise<string | undefined> {
    const finished = { runId, kind: 'cutover_rehearsal' as const, status, reason: runReason, result };
    try {
      const { reportPath } = await bookkeeping.recordRunFinished({
        ...finished,
        workflowId: info.workflowId,
        input,
        startedAt: startedAt.toISOString(),
      });
      return reportPath;
    } catch (err) {
      if (isCancellation(err)) throw err;
      // `result` holds `evidence` by reference: the report written next says why the row is missing.
      noteRunRecordError('final row not recorded in bo.ops_runs', err);
    }
    try {
      return (await bookkeeping.writeRunReport(finished)).reportPath;
    } catch (err) {
      if (isCancellation(err)) throw err;
      noteRunRecordError('report not written', err);
      return undefined;
    }
  }

  /** Sampling reads the Backoffice DB: when that fails the environment is at fault, not the API under test. */
  async function sampleTxIds(until: Date, n: number): Promise<string[]> {
    try {
      return await quick.sampleTxIds({ until: until.toISOString(), n });
    } catch (err) {
      if (isCancellation(err)) throw err;
      throw new StepFailed(
        'ENVIRONMENT_BLOCKED',
        `could not sample tx ids from the Backoffice DB: ${failureMessage(err)}`,
      );
    }
  }

  /** Runs one step, records timing and counts; a failure becomes the step's NO_GO reason. */
  async function step<T>(
    name: RehearsalStepName,
    reason: RehearsalReason,
    fn: () => Promise<T>,
    counts?: (r: T) => StepRecord['counts'],
  ): Promise<T> {
    const rec = steps.find((s) => s.name === name)!;
    rec.status = 'running';
    rec.startedAt = new Date(Date.now()).toISOString();
    progress.currentStep = name;
    progress.phase = name;
    const t0 = Date.now();
    try {
      const result = await fn();
      rec.status = 'ok';
      rec.counts = counts?.(result);
      return result;
    } catch (err) {
      if (isCancellation(err)) {
        rec.status = 'failed';
        rec.error = 'cancelled';
        throw err;
      }
      rec.status = 'failed';
      rec.error = err instanceof StepFailed ? err.message : failureMessage(err);
      throw err instanceof StepFailed ? err : new StepFailed(reason, rec.error);
    } finally {
      rec.finishedAt = new Date(Date.now()).toISOString();
      rec.durationSec = (Date.now() - t0) / 1000;
    }
  }

  let verdict: 'GO' | 'NO_GO' = 'GO';
  let reason: RehearsalReason = 'NONE';
  let detail = 'all steps passed';
  try {
    await step(
      'preflight',
      'ENVIRONMENT_BLOCKED',
      () => preflightActivities.preflight(),
      (r) => ({ db: r.db, kafka: r.kafka }),
    );

    evidence.migration = await step(
      'migrate',
      'MIGRATION_FAILED',
      async () => {
        const m = await quick.migrate();
        if (m.current !== m.head)
          throw new StepFailed('MIGRATION_FAILED', `revision ${m.current} is not head ${m.head}`);
        return m;
      },
      (m) => ({ current: m.current ?? 'none', head: m.head, applied: m.applied.length }),
    );

    evidence.backfill = await step(
      'backfill',
      'BACKFILL_FAILED',
      () => longRunning.backfill({ dumpPath, until: tCutover.toISOString(), checkpointId, fresh: false }),
      (b) => ({
        linesRead: b.linesRead,
        rowsApplied: b.rowsApplied,
        rowsDlq: b.rowsDlq,
        skippedAfterUntil: b.rowsSkippedAfterUntil,
        resumedFromLine: b.resumedFromLine,
      }),
    );

    evidence.sync = await step(
      'sync',
      'SYNC_TIMEOUT',
      async () => {
        const s = await longRunning.syncWindow({
          groupId: consumerGroup,
          startAt: syncFrom.toISOString(),
          timeoutSec: syncTimeoutSec,
        });
        if (!s.caughtUp) throw new StepFailed('SYNC_TIMEOUT', `lag ${s.lagAtEnd} after ${syncTimeoutSec}s`);
        return s;
      },
      (s) => ({ consumed: s.consumed, applied: s.applied, dlq: s.dlq, lagAtEnd: s.lagAtEnd }),
    );

    evidence.smoke = await step(
      'smoke',
      'SMOKE_FAILED',
      async () => {
        const present = input.smoke?.presentTxIds?.length
          ? input.smoke.presentTxIds
          : await sampleTxIds(tCutover, 5);
        const absent = input.smoke?.absentTxIds?.length
          ? input.smoke.absentTxIds
          : [`rehearsal-absent-${info.runId}`];
        if (present.length === 0)
          throw new StepFailed('SMOKE_FAILED', 'no transaction to check: the backfill loaded nothing');
        const r = await quick.smoke({ present, absent });
        if (!r.ok) {
          const bad = r.checks
            .filter((c) => !c.ok)
            .map((c) => `${c.txId}: expected ${c.expected}, got ${c.got}`);
          throw new StepFailed('SMOKE_FAILED', bad.join('; '));
        }
        return r;
      },
      (r) => ({ checks: r.checks.length }),
    );

    evidence.idempotency = await step(
      'idempotency',
      'IDEMPOTENCY_FAILED',
      async () => {
        const sample = input.idempotency?.txIds?.length
          ? input.idempotency.txIds
          : await sampleTxIds(new Date(Date.now() + 86_400_000), sampleSize);
        progress.phase = 'idempotency: hashing before replay';
        const before = await quick.hashApiPayloads({ txIds: sample });
        progress.phase = 'idempotency: re-running backfill';
        await longRunning.backfill({
          dumpPath,
          until: tCutover.toISOString(),
          checkpointId: `${checkpointId}-again`,
          fresh: true,
        });
        progress.phase = 'idempotency: replaying the sync window';
        const replay = await longRunning.syncWindow({
          groupId: `${consumerGroup}-replay`,
          startAt: syncFrom.toISOString(),
          timeoutSec: syncTimeoutSec,
          deleteGroupAfter: true,
        });
        if (!replay.caughtUp)
          throw new StepFailed(
            'SYNC_TIMEOUT',
            `replay of the window: lag ${replay.lagAtEnd} after ${syncTimeoutSec}s`,
          );
        progress.phase = 'idempotency: hashing after replay';
        const after = await quick.hashApiPayloads({ txIds: sample });
        const mismatched = sample.filter((id) => before.perId[id] !== after.perId[id]);
        const result = { sample, hashBefore: before.hash, hashAfter: after.hash, mismatched };
        if (before.hash !== after.hash) {
          evidence.idempotency = result;
          throw new StepFailed('IDEMPOTENCY_FAILED', `payload hash changed for ${mismatched.join(', ')}`);
        }
        return result;
      },
      (r) => ({ sample: r.sample.length, hash: r.hashAfter }),
    );
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => recordFinished('CANCELLED', null, { steps, evidence }));
      throw err;
    }
    if (!(err instanceof StepFailed)) throw err;
    verdict = 'NO_GO';
    reason = err.reason;
    detail = err.message;
    for (const s of steps) if (s.status === 'pending') s.status = 'skipped';
  }

  progress.currentStep = 'done';
  progress.phase = 'reporting';
  progress.verdict = verdict;
  progress.reason = reason;
  const result: CutoverRehearsalResult = { verdict, reason, detail, steps, evidence };
  evidence.reportPath = await recordFinished(verdict, reason, result);
  progress.phase = 'done';
  return result;
}

type RunKind = 'dlq_replay' | 'l3_regression';

/**
 * Runs `body`; if it fails (bad input, an activity out of retries, a cancel) the run is recorded as FAILED or
 * CANCELLED before the workflow fails, so no bo.ops_runs row stays RUNNING. An activity's InvalidInputError is
 * re-thrown as the workflow's own failure, so the Temporal UI shows the message naming the bad field.
 */
async function failureRecorded<T>(
  run: { runId: string; kind: RunKind; input: unknown },
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await body();
  } catch (err) {
    const cancelled = isCancellation(err);
    await CancellationScope.nonCancellable(() =>
      quick.recordRunFinished({
        runId: run.runId,
        kind: run.kind,
        status: cancelled ? 'CANCELLED' : 'FAILED',
        reason: cancelled ? null : failureType(err),
        result: { error: failureMessage(err) },
        workflowId: run.runId,
        input: run.input,
      }),
    ).catch((recordErr: unknown) =>
      // The original failure is what ops need to see; a failed record must not replace it.
      log.warn('could not record the failed run', { runId: run.runId, error: failureMessage(recordErr) }),
    );
    if (!cancelled && err instanceof ActivityFailure && failureType(err) === 'InvalidInputError')
      throw ApplicationFailure.create({
        type: 'InvalidInputError',
        message: err.cause?.message ?? failureMessage(err),
        nonRetryable: true,
        cause: err,
      });
    throw err;
  }
}

/** A number from the input within [min, max] (an integer if asked), or its default; anything else is InvalidInputError. */
function numberInput(
  field: string,
  value: unknown,
  fallback: number,
  range: { min: number; max: number; exclusiveMin?: boolean; integer?: boolean; unit?: string },
): number {
  const v = value ?? fallback;
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (range.exclusiveMin ? v > range.min : v >= range.min) &&
    v <= range.max &&
    (!range.integer || Number.isInteger(v));
  if (!ok)
    throw ApplicationFailure.nonRetryable(
      `${field} must be ${range.integer ? 'an integer' : 'a number'}${range.unit ? ` of ${range.unit}` : ''} in ` +
        `${range.exclusiveMin ? '(' : '['}${range.min}, ${range.max}], got ${JSON.stringify(value)}`,
      'InvalidInputError',
    );
  return v as number;
}

/** A positive number of seconds from the input, or its default; anything else is InvalidInputError. */
function seconds(field: string, value: unknown, fallback: number, max: number): number {
  return numberInput(field, value, fallback, { min: 0, max, exclusiveMin: true, unit: 'seconds' });
}

export async function dlqReplay(input: DlqReplayInput = {}): Promise<DlqReplayResult> {
  const runId = workflowInfo().workflowId;
  await quick.recordRunStarted({ runId, kind: 'dlq_replay', workflowId: runId, input });
  // The activity validates the input before touching the DB (one source of truth with the core) and fails
  // non-retryably on bad input, so an unknown reason fails in about a second instead of ten backed-off attempts.
  const counts = await failureRecorded({ runId, kind: 'dlq_replay', input }, () =>
    longRunning.replayDlq({ ...input, runId }),
  );
  const status = counts.stillFailing > 0 ? 'COMPLETED_WITH_FAILURES' : 'COMPLETED';
  const { reportPath } = await quick.recordRunFinished({
    runId,
    kind: 'dlq_replay',
    status,
    reason: null,
    result: counts,
  });
  return { ...counts, runId, reportPath };
}

export async function l3Regression(input: L3RegressionInput = {}): Promise<L3RegressionResult> {
  const runId = workflowInfo().workflowId;
  // A unique tag per run: every synthetic id carries it, so runs never see each other's data.
  const tag = `l3-${workflowInfo().runId.slice(0, 8)}-${Date.now().toString(36)}`;
  await quick.recordRunStarted({ runId, kind: 'l3_regression', workflowId: runId, input });
  const checks = await failureRecorded({ runId, kind: 'l3_regression', input }, async () => {
    // verifyRegression runs under a 2-hour start-to-close timeout: a longer wait could never finish.
    const syncTimeoutSec = seconds('syncTimeoutSec', input.syncTimeoutSec, 60, 3600);
    const freshnessSloSec = seconds('freshnessSloSec', input.freshnessSloSec, 5, 86_400);
    const published = await quick.publishRegressionEvents({ tag });
    return longRunning.verifyRegression({ published, syncTimeoutSec, freshnessSloSec });
  });
  const passed = checks.every((c) => c.ok);
  const result: L3RegressionResult = { runId, tag, passed, checks };
  const { reportPath } = await quick.recordRunFinished({
    runId,
    kind: 'l3_regression',
    status: passed ? 'PASSED' : 'FAILED',
    reason: passed
      ? null
      : checks
          .filter((c) => !c.ok)
          .map((c) => c.name)
          .join(','),
    result,
  });
  result.reportPath = reportPath;
  if (!passed) {
    // Fail the workflow so the failure is red in the Temporal UI (and counted by ops_runs_total{verdict="FAILED"}).
    throw ApplicationFailure.nonRetryable(
      `L3 regression failed: ${checks
        .filter((c) => !c.ok)
        .map((c) => `${c.name} (${c.detail})`)
        .join('; ')}`,
      'RegressionFailed',
      result,
    );
  }
  return result;
}

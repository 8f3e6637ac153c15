// Inputs and results of the ops workflows (SPEC §6). Pure types: shared by workflows, activities and the ops CLI.

export type RehearsalReason =
  | 'NONE'
  | 'ENVIRONMENT_BLOCKED'
  | 'MIGRATION_FAILED'
  | 'BACKFILL_FAILED'
  | 'SYNC_TIMEOUT'
  | 'SMOKE_FAILED'
  | 'IDEMPOTENCY_FAILED';

export type RehearsalStepName = 'preflight' | 'migrate' | 'backfill' | 'sync' | 'smoke' | 'idempotency';

/** Every field has a default so ops can start the workflow with `{}` from the Temporal UI. */
export interface CutoverRehearsalInput {
  /** RFC 3339; default: the moment the workflow starts. */
  tCutover?: string;
  /** Sync starts from the Kafka offsets at tCutover − bufferMinutes. Default 5. */
  bufferMinutes?: number;
  /** NDJSON(.gz) file or directory. Default: the demo dump written by `ops/up` (env DEMO_DUMP_PATH). */
  dumpPath?: string;
  /** Default: bo-sync-<env>-rehearsal-v<epoch ms of the start>, a fresh generation per run. */
  consumerGroup?: string;
  /** How long the consumer may take to reach lag 0. Default 300. */
  syncTimeoutSec?: number;
  smoke?: { presentTxIds?: string[]; absentTxIds?: string[] };
  /** sampleSize default 20; txIds pins the sample (e.g. the transactions a change is known to touch). */
  idempotency?: { sampleSize?: number; txIds?: string[] };
}

export interface StepRecord {
  name: RehearsalStepName;
  status: 'pending' | 'running' | 'ok' | 'failed' | 'skipped';
  startedAt?: string;
  finishedAt?: string;
  durationSec?: number;
  counts?: Record<string, number | string | boolean>;
  error?: string;
}

export interface RehearsalEvidence {
  runId: string;
  tCutover: string;
  syncFrom: string;
  consumerGroup: string;
  dumpPath: string;
  migration?: { current: string | null; head: string; applied: string[] };
  backfill?: BackfillSummary;
  sync?: SyncWindowResult;
  smoke?: SmokeResult;
  idempotency?: { sample: string[]; hashBefore: string; hashAfter: string; mismatched: string[] };
  /**
   * Why the run is missing from (or stale in) bo.ops_runs: recording it is best effort, so a database outage
   * ends in a NO_GO verdict with this report instead of a failed workflow.
   */
  runRecordErrors?: string[];
  reportPath?: string;
}

export interface CutoverRehearsalResult {
  verdict: 'GO' | 'NO_GO';
  reason: RehearsalReason;
  detail: string;
  steps: StepRecord[];
  evidence: RehearsalEvidence;
}

export interface RehearsalProgress {
  runId: string;
  currentStep: RehearsalStepName | 'done';
  phase: string;
  steps: StepRecord[];
  /** Live counters reported by the running activity (from its heartbeats, via the activity result on completion). */
  verdict?: 'GO' | 'NO_GO';
  reason?: RehearsalReason;
}

export interface BackfillSummary {
  checkpointId: string;
  linesRead: number;
  rowsApplied: number;
  rowsDlq: number;
  rowsSkippedAfterUntil: number;
  /** Line number the activity resumed after (0 when it started from the beginning). */
  resumedFromLine: number;
  resumedAfterCrash: boolean;
  seconds: number;
}

export interface SyncWindowResult {
  groupId: string;
  startAt: string;
  caughtUp: boolean;
  lagAtEnd: number;
  consumed: number;
  applied: number;
  dlq: number;
  seconds: number;
}

export interface SmokeCheck {
  txId: string;
  expected: 200 | 404;
  got: number;
  ok: boolean;
}
export interface SmokeResult {
  ok: boolean;
  checks: SmokeCheck[];
}

export interface DlqReplayInput {
  topic?: string;
  reason?: string;
  from?: string;
  to?: string;
  ids?: string[];
  dryRun?: boolean;
  batchSize?: number;
}
export interface DlqReplayResult {
  runId: string;
  dryRun: boolean;
  matched: number;
  applied: number;
  stillFailing: number;
  skipped: number;
  reportPath?: string;
}

export interface L3RegressionInput {
  /** How long to wait for the synthetic events to appear through the API. Default 60. */
  syncTimeoutSec?: number;
  /** Freshness SLO checked on the synthetic entries (ingested_at − event_time). Default 5. */
  freshnessSloSec?: number;
}
export interface L3Check {
  name: string;
  ok: boolean;
  detail: string;
}
export interface L3RegressionResult {
  runId: string;
  tag: string;
  passed: boolean;
  checks: L3Check[];
  reportPath?: string;
}

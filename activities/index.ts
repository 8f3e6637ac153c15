// Activities of the ops workflows: every piece of I/O (DB, Kafka, HTTP, files) lives here.
// createActivities(deps) follows Temporal's dependency-injection sample, so tests can run a worker with
// other dependencies (another Kafka address, another profile's topics) on their own task queue.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { Kafka, logLevel } from 'kafkajs';
import type pg from 'pg';
import type { EventProfile } from '../contract';
import { logger } from '../core/log';
import { opsLastRunSuccess, opsRunsTotal } from '../core/metrics';
import { migrateToHead } from '../db/migrate';
import { BackfillInputError, runBackfill } from '../sync/backfill';
import { createSyncConsumer } from '../sync/consumer';
import { DlqReplayInputError, parseDlqReplayRequest, replayDlq as replayDlqCore } from '../sync/dlq-replay';
import type {
  BackfillSummary,
  CutoverRehearsalResult,
  DlqReplayInput,
  DlqReplayResult,
  L3Check,
  SmokeCheck,
  SmokeResult,
  SyncWindowResult,
} from '../workflows/types';
import { canonicalPayload } from './payload-hash';
import { renderGenericReport, renderRehearsalReport } from './report';
import {
  publishRegressionEvents as publishRegression,
  verifyRegression as verifyRegressionCore,
  type PublishedRegression,
} from './regression';

export interface ActivityDeps {
  pool: pg.Pool;
  databaseUrl: string;
  brokers: string[];
  profile: EventProfile;
  apiBaseUrl: string;
  /** Bearer token for the smoke/idempotency HTTP calls when the API runs with AUTH_MODE=oidc. */
  apiToken?: string;
  appEnv: string;
  evidenceDir: string;
  demoDumpPath: string;
  /** Override of the migrations directory (tests point it at a broken copy). */
  migrationsDir?: string;
}

type RunKind = 'cutover_rehearsal' | 'dlq_replay' | 'l3_regression';

/** Best effort: a leftover group only costs a little broker metadata, so a failure is logged, not thrown. */
async function deleteConsumerGroup(brokers: string[], groupId: string): Promise<void> {
  const admin = new Kafka({ clientId: 'tx-lookup-ops', brokers, logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    await admin.deleteGroups([groupId]);
  } catch (err) {
    logger('activities').warn('could not delete consumer group', { groupId, err });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** host:port/db of a connection string, for messages and evidence: never the credentials. */
function describeDatabase(databaseUrl: string): string {
  try {
    const u = new URL(databaseUrl);
    return `${u.host}${u.pathname}`;
  } catch {
    return '(unparsable DATABASE_URL)';
  }
}

interface RunFinished {
  runId: string;
  kind: RunKind;
  status: string;
  reason: string | null;
  result: unknown;
}

/** Heartbeats on a timer while `work` runs, so slow steps inside it never look like a dead worker. */
async function withHeartbeat<T>(details: () => unknown, work: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(details()), 2_000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

export function createActivities(deps: ActivityDeps) {
  const authHeaders: Record<string, string> = deps.apiToken
    ? { authorization: `Bearer ${deps.apiToken}` }
    : {};

  async function getTx(txId: string): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${deps.apiBaseUrl}/admin/tx/${encodeURIComponent(txId)}`, {
      headers: { ...authHeaders, 'x-request-id': `ops-${randomUUID()}` },
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* keep raw text */
    }
    return { status: res.status, body };
  }

  async function writeReport(input: RunFinished): Promise<string> {
    const dir = path.resolve(deps.evidenceDir, input.kind);
    await mkdir(dir, { recursive: true });
    const reportPath = path.join(dir, `${input.runId.replace(/[^A-Za-z0-9._-]/g, '_')}.md`);
    const body =
      input.kind === 'cutover_rehearsal' && input.status !== 'CANCELLED'
        ? renderRehearsalReport({
            ...(input.result as CutoverRehearsalResult),
            evidence: { ...(input.result as CutoverRehearsalResult).evidence, reportPath },
          })
        : renderGenericReport(input.kind, input.runId, input.status, input.result);
    await writeFile(reportPath, body);
    return reportPath;
  }

  function countRun(input: RunFinished): void {
    const success = ['GO', 'PASSED', 'COMPLETED'].includes(input.status);
    opsRunsTotal.inc({ workflow: input.kind, verdict: input.status });
    opsLastRunSuccess.set({ workflow: input.kind }, success ? 1 : 0);
  }

  return {
    async defaultRehearsalGroup({ startedAtMs }: { startedAtMs: number }): Promise<string> {
      // Group policy bo-sync-<env>-<owner>-v<generation>: every rehearsal is a new generation.
      return `bo-sync-${deps.appEnv}-rehearsal-v${startedAtMs}`;
    },

    async defaultDumpPath(): Promise<string> {
      return deps.demoDumpPath;
    },

    async preflight(): Promise<{ db: string; kafka: string }> {
      let db: string;
      try {
        const { rows } = await deps.pool.query<{ v: string }>('select version() as v');
        db = (rows[0]?.v ?? '').split(' ').slice(0, 2).join(' ');
      } catch (err) {
        throw new Error(
          `PostgreSQL at ${describeDatabase(deps.databaseUrl)} is not reachable: ${(err as Error).message}`,
        );
      }
      const kafka = new Kafka({
        clientId: 'tx-lookup-preflight',
        brokers: deps.brokers,
        logLevel: logLevel.NOTHING,
        retry: { retries: 2 },
        connectionTimeout: 3000,
      });
      const admin = kafka.admin();
      try {
        await admin.connect();
        const topics = await admin.listTopics();
        const missing = Object.values(deps.profile.topics).filter((t) => !topics.includes(t));
        if (missing.length) throw new Error(`Kafka topics missing: ${missing.join(', ')}`);
        return {
          db,
          kafka: `${deps.brokers.join(',')} (${topics.length} topics)`,
        };
      } catch (err) {
        throw new Error(`Kafka at ${deps.brokers.join(',')} is not usable: ${(err as Error).message}`);
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },

    async migrate(): Promise<{ current: string | null; head: string; applied: string[] }> {
      try {
        return await migrateToHead(
          deps.databaseUrl,
          deps.migrationsDir ? { migrationsDir: deps.migrationsDir } : undefined,
        );
      } catch (err) {
        // A failed SQL file or a checksum mismatch will not fix itself on retry.
        throw ApplicationFailure.nonRetryable((err as Error).message, 'MigrationChecksumError');
      }
    },

    async backfill(input: {
      dumpPath: string;
      until: string;
      checkpointId: string;
      fresh: boolean;
    }): Promise<BackfillSummary> {
      const ctx = Context.current();
      // Progress lives in bo.backfill_checkpoints (committed with each chunk), so a retry after a worker
      // crash resumes after the last committed chunk; the heartbeat details show it in the Temporal UI.
      let last: unknown = { phase: 'starting', attempt: ctx.info.attempt };
      const t0 = Date.now();
      try {
        const r = await withHeartbeat(
          () => last,
          () =>
            runBackfill({
              dumpPath: input.dumpPath,
              until: new Date(input.until),
              profile: deps.profile,
              pool: deps.pool,
              checkpointId: input.checkpointId,
              fresh: input.fresh,
              signal: ctx.cancellationSignal,
              onProgress: (p) => {
                last = p;
                ctx.heartbeat(p);
              },
            }),
        );
        const resumedFromLine = r.resumedFrom?.line ?? 0;
        return {
          checkpointId: input.checkpointId,
          linesRead: r.linesRead,
          rowsApplied: r.rowsApplied,
          rowsDlq: r.rowsDlq,
          rowsSkippedAfterUntil: r.rowsSkippedAfterUntil,
          resumedFromLine,
          resumedAfterCrash: ctx.info.attempt > 1 && r.resumedFrom !== null,
          seconds: (Date.now() - t0) / 1000,
        };
      } catch (err) {
        if (err instanceof BackfillInputError)
          throw ApplicationFailure.nonRetryable(err.message, 'BackfillInputError');
        throw err;
      }
    },

    async syncWindow(input: {
      groupId: string;
      startAt: string;
      timeoutSec: number;
      /** Delete the consumer group afterwards (the idempotency replay's group has no later use). */
      deleteGroupAfter?: boolean;
    }): Promise<SyncWindowResult> {
      const ctx = Context.current();
      const t0 = Date.now();
      const consumer = createSyncConsumer({
        groupId: input.groupId,
        profile: deps.profile,
        start: new Date(input.startAt),
        pool: deps.pool,
        brokers: deps.brokers,
      });
      let lastLag: unknown = { phase: 'joining' };
      try {
        await consumer.start();
        const caughtUp = await withHeartbeat(
          () => ({ lag: lastLag, stats: consumer.stats() }),
          () =>
            consumer.waitUntilCaughtUp({
              timeoutMs: input.timeoutSec * 1000,
              signal: ctx.cancellationSignal,
              onProgress: (lag) => {
                lastLag = lag;
              },
            }),
        );
        const lag = await consumer.lag();
        const s = consumer.stats();
        return {
          groupId: input.groupId,
          startAt: input.startAt,
          caughtUp,
          lagAtEnd: lag.total,
          consumed: s.consumed,
          applied: s.applied,
          dlq: s.dlq,
          seconds: (Date.now() - t0) / 1000,
        };
      } finally {
        await consumer.stop();
        if (input.deleteGroupAfter) await deleteConsumerGroup(deps.brokers, input.groupId);
      }
    },

    async sampleTxIds({ until, n }: { until: string; n: number }): Promise<string[]> {
      // A spread sample (hash order), not the first n rows of one wallet.
      const { rows } = await deps.pool.query<{ tx_id: string }>(
        `select tx_id from bo.ledger_entries where event_time < $1 order by md5(tx_id) limit $2`,
        [until, n],
      );
      return rows.map((r) => r.tx_id);
    },

    async smoke({ present, absent }: { present: string[]; absent: string[] }): Promise<SmokeResult> {
      const checks: SmokeCheck[] = [];
      for (const [ids, expected] of [
        [present, 200],
        [absent, 404],
      ] as const) {
        for (const txId of ids) {
          const { status } = await getTx(txId);
          checks.push({ txId, expected, got: status, ok: status === expected });
        }
      }
      return { ok: checks.every((c) => c.ok), checks };
    },

    async hashApiPayloads({
      txIds,
    }: {
      txIds: string[];
    }): Promise<{ hash: string; perId: Record<string, string> }> {
      const perId: Record<string, string> = {};
      for (const id of txIds) {
        const { status, body } = await getTx(id);
        perId[id] = createHash('sha256')
          .update(`${status}\n${canonicalPayload(body)}`)
          .digest('hex');
      }
      const all = Object.keys(perId)
        .sort()
        .map((id) => `${id}=${perId[id]}`)
        .join('\n');
      return { hash: createHash('sha256').update(all).digest('hex'), perId };
    },

    async recordRunStarted(input: {
      runId: string;
      kind: RunKind;
      workflowId: string;
      input: unknown;
    }): Promise<void> {
      await deps.pool.query(
        `insert into bo.ops_runs (run_id, kind, workflow_id, status, input) values ($1, $2, $3, 'RUNNING', $4)
         on conflict (run_id) do nothing`,
        [input.runId, input.kind, input.workflowId, JSON.stringify(input.input ?? {})],
      );
    },

    /**
     * Writes the report, then the final bo.ops_runs row. An upsert: when recordRunStarted could not write the
     * RUNNING row (a DB blip at the start), the finished run is still recorded.
     */
    async recordRunFinished(
      input: RunFinished & { workflowId?: string; input?: unknown; startedAt?: string },
    ): Promise<{ reportPath: string }> {
      const reportPath = await writeReport(input);
      await deps.pool.query(
        `insert into bo.ops_runs (run_id, kind, workflow_id, status, reason, input, result, evidence_path, started_at, finished_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9::timestamptz, now()), now())
         on conflict (run_id) do update set status = excluded.status, reason = excluded.reason,
           result = excluded.result, evidence_path = excluded.evidence_path, finished_at = excluded.finished_at`,
        [
          input.runId,
          input.kind,
          input.workflowId ?? input.runId,
          input.status,
          input.reason,
          JSON.stringify(input.input ?? {}),
          JSON.stringify(input.result),
          reportPath,
          input.startedAt ?? null,
        ],
      );
      countRun(input);
      return { reportPath };
    },

    /** The report alone, for when the DB cannot take the run record: the evidence must survive a DB outage. */
    async writeRunReport(input: RunFinished): Promise<{ reportPath: string }> {
      const reportPath = await writeReport(input);
      countRun(input);
      return { reportPath };
    },

    async replayDlq(input: DlqReplayInput & { runId: string }): Promise<Omit<DlqReplayResult, 'reportPath'>> {
      const ctx = Context.current();
      let request: ReturnType<typeof parseDlqReplayRequest>;
      try {
        request = parseDlqReplayRequest(input);
      } catch (err) {
        // Bad input is the same on every attempt: fail once, naming the field, instead of backing off 10 times.
        if (err instanceof DlqReplayInputError)
          throw ApplicationFailure.nonRetryable(err.message, 'InvalidInputError');
        throw err;
      }
      const r = await withHeartbeat(
        () => ({ phase: 'replaying' }),
        () =>
          replayDlqCore(request.filter, {
            dryRun: request.dryRun,
            batchSize: request.batchSize,
            // Each row is decoded with the profile it was dead-lettered under (a legacy backfill's rows with
            // oltp-legacy-v0); the worker's profile is the fallback, and the one used for its own profile id.
            defaultProfile: deps.profile,
            pool: deps.pool,
            signal: ctx.cancellationSignal,
            onProgress: (p: unknown) => ctx.heartbeat(p),
          }),
      );
      return {
        runId: input.runId,
        dryRun: r.dryRun,
        matched: r.matched,
        applied: r.applied,
        stillFailing: r.stillFailing,
        skipped: r.skipped,
      };
    },

    async publishRegressionEvents({ tag }: { tag: string }): Promise<PublishedRegression> {
      return publishRegression({ tag, brokers: deps.brokers, profile: deps.profile });
    },

    async verifyRegression(input: {
      published: PublishedRegression;
      syncTimeoutSec: number;
      freshnessSloSec: number;
    }): Promise<L3Check[]> {
      return withHeartbeat(
        () => ({ phase: 'verifying' }),
        () =>
          verifyRegressionCore({
            ...input,
            pool: deps.pool,
            getTx,
            signal: Context.current().cancellationSignal,
          }),
      );
    },
  };
}

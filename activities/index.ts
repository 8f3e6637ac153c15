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
import { replayDlq as replayDlqCore } from '../sync/dlq-replay';
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

  return {
    async defaultRehearsalGroup({ startedAtMs }: { startedAtMs: number }): Promise<string> {
      // Group policy bo-sync-<env>-<owner>-v<generation>: every rehearsal is a new generation.
      return `bo-sync-${deps.appEnv}-rehearsal-v${startedAtMs}`;
    },

    async defaultDumpPath(): Promise<string> {
      return deps.demoDumpPath;
    },

    async preflight(): Promise<{ db: string; kafka: string }> {
      const { rows } = await deps.pool.query<{ v: string }>('select version() as v');
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
          db: (rows[0]?.v ?? '').split(' ').slice(0, 2).join(' '),
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

    async recordRunFinished(input: {
      runId: string;
      kind: RunKind;
      status: string;
      reason: string | null;
      result: unknown;
    }): Promise<{ reportPath: string }> {
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
      await deps.pool.query(
        `update bo.ops_runs set status = $2, reason = $3, result = $4, evidence_path = $5, finished_at = now() where run_id = $1`,
        [input.runId, input.status, input.reason, JSON.stringify(input.result), reportPath],
      );
      const success = ['GO', 'PASSED', 'COMPLETED'].includes(input.status);
      opsRunsTotal.inc({ workflow: input.kind, verdict: input.status });
      opsLastRunSuccess.set({ workflow: input.kind }, success ? 1 : 0);
      return { reportPath };
    },

    async replayDlq(input: DlqReplayInput & { runId: string }): Promise<Omit<DlqReplayResult, 'reportPath'>> {
      const ctx = Context.current();
      const r = await withHeartbeat(
        () => ({ phase: 'replaying' }),
        () =>
          replayDlqCore(
            {
              topic: input.topic,
              reason: input.reason as never,
              from: input.from ? new Date(input.from) : undefined,
              to: input.to ? new Date(input.to) : undefined,
              ids: input.ids,
            },
            {
              dryRun: input.dryRun ?? false,
              batchSize: input.batchSize ?? 500,
              profile: deps.profile,
              pool: deps.pool,
              onProgress: (p: unknown) => ctx.heartbeat(p),
            },
          ),
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

// The ops workflows end to end on the real stack: Temporal dev server, a real worker, Kafka, PostgreSQL and
// the Admin API over real HTTP. Each test file run has its own topics, task queue and id prefix.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Producer } from 'kafkajs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupCommitAuditWriter } from '../../../api/audit';
import { createDisabledAuthenticator } from '../../../api/auth';
import { createApi } from '../../../api/http';
import { startServer, type RunningServer } from '../../../api/server';
import { decodeDumpLine, getProfile, type EventProfile } from '../../../contract';
import { loadEnv, type Env } from '../../../core/env';
import { DEFAULT_MIGRATIONS_DIR } from '../../../db/migrate';
import { createPool } from '../../../db/pool';
import { createSyncConsumer } from '../../../sync/consumer';
import { createKafka, ensureTopics, withTopics } from '../../../sync/kafka';
import {
  generatePayments,
  produceEvents,
  SYNTH_DEFAULTS,
  writeDump,
  type SynthEvent,
} from '../../../sync/synth';
import { connectClient } from '../../../temporal/client';
import { applyL3Schedule, L3_SCHEDULE_ID, listSchedules } from '../../../temporal/schedules';
import { createOpsWorker } from '../../../temporal/worker';
import type { CutoverRehearsalResult, L3RegressionResult, RehearsalProgress } from '../../../workflows/types';
import { workflowBundle } from '../../support/temporal';

const run = randomBytes(4).toString('hex');
const prefix = `rh${run}-`;
const taskQueue = `it-ops-${run}`;
let profile: EventProfile;
let e: Env;
let pool: pg.Pool;
let api: RunningServer;
let apiPools: pg.Pool[] = [];
/** Pools of workers pointed at a closed port; ended after the workers stop. */
const unreachablePools: pg.Pool[] = [];
let client: Client;
const workers: { worker: Worker; connection: NativeConnection; done: Promise<void> }[] = [];
let producer: Producer;
let tmp: string;
let dumpDir: string;
let tCutover: Date;
let postCutoverTx: string;
let dumpTx: string;

async function startWorker(deps: Record<string, unknown>, queue: string) {
  const { worker, connection } = await createOpsWorker({
    env: e,
    deps: {
      profile,
      apiBaseUrl: api.url,
      evidenceDir: path.join(tmp, 'evidence'),
      demoDumpPath: dumpDir,
      pool,
      ...deps,
    },
    taskQueue: queue,
    workerOptions: { workflowBundle: await workflowBundle() },
  });
  const done = worker.run();
  workers.push({ worker, connection, done });
  return worker;
}

/** The tx_id of the first well-formed ledger event (decoded with the contract: events may be enveloped). */
function firstTxId(events: SynthEvent[]): string {
  for (const ev of events) {
    const d = decodeDumpLine(profile, ev.value);
    if (d.ok && d.stream === 'ledger') return d.entry.tx_id;
  }
  throw new Error('no ledger event');
}

function rehearse(input: Record<string, unknown>, queue = taskQueue) {
  return client.workflow.start('cutoverRehearsal', {
    taskQueue: queue,
    workflowId: `it-rehearsal-${randomUUID()}`,
    args: [input],
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'txl-rehearsal-'));
  dumpDir = path.join(tmp, 'dump');
  await mkdir(dumpDir);
  profile = withTopics(getProfile('canonical-v1'), { ledger: `it-${run}-ledger`, order: `it-${run}-order` });
  e = loadEnv({
    ...process.env,
    KAFKA_TOPIC_LEDGER: profile.topics.ledger,
    KAFKA_TOPIC_ORDER: profile.topics.order,
  });
  pool = createPool(e.DATABASE_URL, 6);
  const kafka = createKafka({ brokers: e.KAFKA_BROKERS });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [profile.topics.ledger, profile.topics.order], 2);
  await admin.disconnect();
  producer = kafka.producer();
  await producer.connect();

  // The API the smoke and idempotency steps call over real HTTP (auth disabled: a local test stack).
  const db = createPool(e.DATABASE_URL, 4);
  const auditPool = createPool(e.DATABASE_URL, 2);
  apiPools = [db, auditPool];
  api = await startServer(
    createApi({
      db,
      audit: new GroupCommitAuditWriter(auditPool),
      authenticator: createDisabledAuthenticator(),
      cursorSecret: e.CURSOR_SECRET,
      baseUrl: 'http://127.0.0.1',
    }),
    { host: '127.0.0.1', port: 0 },
  );
  client = await connectClient(e);

  // Before the cutover: a dump of 300 payments from the last hour. After it: 100 payments on Kafka.
  tCutover = new Date(Date.now() - 1000);
  const synth = { ...SYNTH_DEFAULTS, malformedRate: 0.02, profile };
  const dumpEvents = [
    ...generatePayments({
      ...synth,
      payments: 300,
      seed: 11,
      idPrefix: `${prefix}d-`,
      startTime: new Date(tCutover.getTime() - 3_600_000),
      spanSec: 3000,
    }),
  ];
  await writeDump(dumpEvents, path.join(dumpDir, 'part-0001.ndjson.gz'));
  const post = [
    ...generatePayments({
      ...synth,
      payments: 100,
      seed: 12,
      idPrefix: `${prefix}k-`,
      startTime: new Date(),
      spanSec: 1,
    }),
  ];
  await produceEvents(post, { producer, profile });
  postCutoverTx = firstTxId(post);
  dumpTx = firstTxId(dumpEvents);

  await startWorker({}, taskQueue);
}, 240_000);

afterAll(async () => {
  for (const w of workers) {
    w.worker.shutdown();
    await w.done.catch(() => undefined);
    await w.connection.close();
  }
  await producer?.disconnect();
  await api?.close();
  await client?.connection.close();
  await Promise.allSettled([pool?.end(), ...[...apiPools, ...unreachablePools].map((p) => p.end())]);
});

describe('cutoverRehearsal on the real stack', () => {
  it('GO: backfill before T_cutover, sync after it, smoke 200/404 over HTTP, idempotent replay; evidence recorded', async () => {
    const handle = await rehearse({
      tCutover: tCutover.toISOString(),
      dumpPath: dumpDir,
      syncTimeoutSec: 60,
      idempotency: { sampleSize: 15 },
    });
    const r = (await handle.result()) as CutoverRehearsalResult;
    expect(r.reason, r.detail).toBe('NONE');
    expect(r.verdict).toBe('GO');
    expect(r.evidence.backfill!.rowsApplied).toBeGreaterThan(600);
    expect(r.evidence.backfill!.rowsDlq).toBeGreaterThan(0); // the dump's malformed lines
    expect(r.evidence.sync!.caughtUp).toBe(true);
    expect(r.evidence.sync!.consumed).toBeGreaterThanOrEqual(300);
    expect(r.evidence.smoke!.checks.some((c) => c.expected === 404 && c.got === 404)).toBe(true);
    expect(r.evidence.idempotency!.hashBefore).toBe(r.evidence.idempotency!.hashAfter);
    expect(r.evidence.consumerGroup).toMatch(/^bo-sync-[a-z]+-rehearsal-v\d+$/);

    // The entries are served by the API: one from the dump, one from Kafka.
    for (const id of [dumpTx, postCutoverTx])
      expect((await fetch(`${api.url}/admin/tx/${id}`)).status).toBe(200);

    // The idempotency replay's consumer group is removed afterwards; the rehearsal's own group stays.
    const admin = createKafka({ brokers: e.KAFKA_BROKERS }).admin();
    await admin.connect();
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
    await admin.disconnect();
    expect(groups).toContain(r.evidence.consumerGroup);
    expect(groups).not.toContain(`${r.evidence.consumerGroup}-replay`);

    const report = await readFile(r.evidence.reportPath!, 'utf8');
    expect(report).toContain('**Verdict: GO**');
    expect(report).toContain(tCutover.toISOString());
    expect(report).toContain('Rollback decision rule');
    const { rows } = await pool.query(
      'select status, reason, evidence_path from bo.ops_runs where run_id = $1',
      [handle.workflowId],
    );
    expect(rows[0]).toMatchObject({ status: 'GO', reason: 'NONE', evidence_path: r.evidence.reportPath });
  });

  it('NO_GO SMOKE_FAILED when an id expected absent exists', async () => {
    const r = (await (
      await rehearse({
        tCutover: tCutover.toISOString(),
        dumpPath: dumpDir,
        syncTimeoutSec: 60,
        smoke: { presentTxIds: [dumpTx], absentTxIds: [postCutoverTx] },
      })
    ).result()) as CutoverRehearsalResult;
    expect(r.verdict).toBe('NO_GO');
    expect(r.reason).toBe('SMOKE_FAILED');
    expect(r.detail).toContain(`${postCutoverTx}: expected 404, got 200`);
  });

  it('NO_GO BACKFILL_FAILED for a dump that does not exist, without retrying it', async () => {
    const t0 = Date.now();
    const r = (await (
      await rehearse({ dumpPath: path.join(tmp, 'no-such-dump') })
    ).result()) as CutoverRehearsalResult;
    expect(r.reason).toBe('BACKFILL_FAILED');
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it('NO_GO ENVIRONMENT_BLOCKED when Kafka is unreachable', async () => {
    const queue = `${taskQueue}-nokafka`;
    await startWorker({ brokers: ['127.0.0.1:1'] }, queue);
    const r = (await (await rehearse({ dumpPath: dumpDir }, queue)).result()) as CutoverRehearsalResult;
    expect(r.reason).toBe('ENVIRONMENT_BLOCKED');
    expect(r.steps[0]?.error).toContain('127.0.0.1:1');
  });

  it('NO_GO ENVIRONMENT_BLOCKED when PostgreSQL is unreachable: a result, not a failed workflow, and a report', async () => {
    const queue = `${taskQueue}-nodb`;
    const unreachableUrl = 'postgres://txlookup:txlookup@127.0.0.1:1/txlookup';
    const unreachable = createPool(unreachableUrl, 2);
    unreachablePools.push(unreachable);
    await startWorker({ pool: unreachable, databaseUrl: unreachableUrl }, queue);
    const t0 = Date.now();
    const handle = await rehearse({ dumpPath: dumpDir }, queue);
    const r = (await handle.result()) as CutoverRehearsalResult;
    expect(r.verdict).toBe('NO_GO');
    expect(r.reason).toBe('ENVIRONMENT_BLOCKED');
    expect(r.steps[0]).toMatchObject({ name: 'preflight', status: 'failed' });
    expect(r.steps[0]?.error).toContain('PostgreSQL at 127.0.0.1:1');
    expect(r.steps[0]?.error).not.toContain('txlookup:txlookup'); // no credentials in the evidence
    expect(r.steps.slice(1).every((s) => s.status === 'skipped')).toBe(true);
    // Neither the RUNNING row nor the final one could be written; the run says so instead of failing.
    expect(r.evidence.runRecordErrors).toHaveLength(2);
    const report = await readFile(r.evidence.reportPath!, 'utf8');
    expect(report).toContain('**Verdict: NO_GO**');
    expect(report).toContain('ENVIRONMENT_BLOCKED');
    expect(report).toContain('not recorded in bo.ops_runs');
    expect(Date.now() - t0).toBeLessThan(30_000);
    const { rows } = await pool.query('select 1 from bo.ops_runs where run_id = $1', [handle.workflowId]);
    expect(rows).toHaveLength(0);
  });

  it('NO_GO MIGRATION_FAILED when a migration cannot be applied (and nothing half-applied stays)', async () => {
    const dir = path.join(tmp, 'migrations-broken');
    await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
    const last = (await readdir(dir)).sort().at(-1)!;
    const broken = `${String(Number(last.slice(0, 4)) + 5000).padStart(4, '0')}_broken_on_purpose.sql`;
    await writeFile(
      path.join(dir, broken),
      'create table bo.it_broken_probe (id int);\nselect * from bo.no_such_table_anywhere;\n',
    );
    const queue = `${taskQueue}-badmig`;
    await startWorker({ migrationsDir: dir }, queue);
    const r = (await (await rehearse({ dumpPath: dumpDir }, queue)).result()) as CutoverRehearsalResult;
    expect(r.reason).toBe('MIGRATION_FAILED');
    const probe = await pool.query(`select to_regclass('bo.it_broken_probe') as t`);
    expect(probe.rows[0].t).toBeNull();
  });

  it('NO_GO IDEMPOTENCY_FAILED when the replayed window changes a payload (an event lands mid-rehearsal)', async () => {
    const handle = await rehearse({
      tCutover: tCutover.toISOString(),
      dumpPath: dumpDir,
      syncTimeoutSec: 60,
      idempotency: { txIds: [postCutoverTx] },
    });
    let p: RehearsalProgress | undefined;
    for (let i = 0; i < 600 && !p?.phase.includes('re-running backfill') && p?.currentStep !== 'done'; i++) {
      p = await handle.query<RehearsalProgress>('progress');
      if (!p.phase.includes('re-running backfill')) await new Promise((r) => setTimeout(r, 50));
    }
    expect(p?.phase).toContain('re-running backfill');
    const current = await (await fetch(`${api.url}/admin/tx/${postCutoverTx}`)).json();
    await producer.send({
      topic: profile.topics.ledger,
      messages: [
        {
          key: postCutoverTx,
          value: JSON.stringify({
            ...current,
            amount: '999999.99',
            source_version: 1_000_000,
            updated_at: new Date(Date.now() + 86_400_000).toISOString(),
          }),
        },
      ],
    });
    const r = (await handle.result()) as CutoverRehearsalResult;
    expect(r.reason).toBe('IDEMPOTENCY_FAILED');
    expect(r.evidence.idempotency?.mismatched).toEqual([postCutoverTx]);
  });

  it('a worker killed mid-backfill: a new worker finishes the same workflow from the checkpoint', async () => {
    const bigDump = path.join(tmp, 'big-dump');
    await mkdir(bigDump);
    const synth = { ...SYNTH_DEFAULTS, profile };
    await writeDump(
      generatePayments({
        ...synth,
        payments: 40_000,
        seed: 21,
        idPrefix: `${prefix}big-`,
        startTime: new Date(tCutover.getTime() - 7_200_000),
        spanSec: 3600,
      }),
      path.join(bigDump, 'part-0001.ndjson.gz'),
    );
    const queue = `${taskQueue}-crash`;
    const childEnv = {
      ...process.env,
      TEMPORAL_TASK_QUEUE: queue,
      KAFKA_TOPIC_LEDGER: profile.topics.ledger,
      KAFKA_TOPIC_ORDER: profile.topics.order,
      API_BASE_URL: api.url,
      EVIDENCE_DIR: path.join(tmp, 'evidence'),
      WORKER_METRICS_PORT: String(20000 + Math.floor(Math.random() * 20000)),
      LOG_LEVEL: 'warn',
    };
    const spawnWorker = (): ChildProcess =>
      spawn('node_modules/.bin/tsx', ['temporal/worker.ts'], {
        env: childEnv,
        stdio: 'ignore',
        detached: true,
      });
    let child = spawnWorker();
    try {
      const handle = await rehearse(
        {
          tCutover: tCutover.toISOString(),
          dumpPath: bigDump,
          syncTimeoutSec: 60,
          idempotency: { sampleSize: 3 },
        },
        queue,
      );
      const checkpointId = `rehearsal-${handle.workflowId}`;
      // Wait for at least one committed chunk, then kill the worker hard.
      let committed = 0;
      for (let i = 0; i < 1200 && committed === 0; i++) {
        const { rows } = await pool.query(
          'select rows_read from bo.backfill_checkpoints where checkpoint_id = $1 and completed_at is null',
          [checkpointId],
        );
        committed = Number(rows[0]?.rows_read ?? 0);
        if (committed === 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(committed).toBeGreaterThan(0);
      process.kill(-child.pid!, 'SIGKILL');
      child = spawnWorker();
      const r = (await handle.result()) as CutoverRehearsalResult;
      expect(r.reason, r.detail).toBe('NONE');
      expect(r.evidence.backfill!.resumedAfterCrash).toBe(true);
      expect(r.evidence.backfill!.resumedFromLine).toBeGreaterThan(0);
      const { rows } = await pool.query(
        'select rows_read, completed_at from bo.backfill_checkpoints where checkpoint_id = $1',
        [checkpointId],
      );
      expect(rows[0].completed_at).not.toBeNull();
      expect(Number(rows[0].rows_read)).toBe(r.evidence.backfill!.linesRead);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
  }, 240_000);

  it('NO_GO SYNC_TIMEOUT when the consumer cannot reach lag 0 in time', async () => {
    const synth = { ...SYNTH_DEFAULTS, profile, malformedRate: 0 };
    await produceEvents(
      generatePayments({
        ...synth,
        payments: 15_000,
        seed: 31,
        idPrefix: `${prefix}flood-`,
        startTime: new Date(),
        spanSec: 10,
      }),
      { producer, profile },
    );
    const r = (await (
      await rehearse({ tCutover: tCutover.toISOString(), dumpPath: dumpDir, syncTimeoutSec: 1 })
    ).result()) as CutoverRehearsalResult;
    expect(r.reason).toBe('SYNC_TIMEOUT');
    expect(r.evidence.sync).toBeUndefined();
    expect(r.steps.find((s) => s.name === 'sync')?.error).toMatch(/lag \d+ after 1s/);
  }, 180_000);
});

describe('dlqReplay on the real stack', () => {
  it('applies DLQ rows that the current contract accepts, dry-run first, and a second replay changes nothing', async () => {
    const good = {
      tx_id: `${prefix}dlq-ok`,
      wallet_id: `${prefix}w`,
      entry_type: 'PAYMENT',
      amount: '10.00',
      event_time: new Date().toISOString(),
      source_version: 1,
    };
    // As if an older contract had rejected a valid message, next to one that is still broken.
    const { rows } = await pool.query<{ id: string }>(
      `insert into bo.consumer_dlq_events (source, profile_id, topic, partition, "offset", message_key, raw_value, reason, error_detail)
       values ('consumer', 'canonical-v1', $1, 0, $2, $3, $4, 'SCHEMA_VIOLATION', 'rejected by contract v0'),
              ('consumer', 'canonical-v1', $1, 0, $5, $6, $7, 'INVALID_JSON', 'truncated')
       returning id`,
      [
        profile.topics.ledger,
        9_000_000_000 + Math.floor(Math.random() * 1e6),
        Buffer.from(good.tx_id),
        Buffer.from(JSON.stringify(good)),
        9_100_000_000 + Math.floor(Math.random() * 1e6),
        Buffer.from('bad'),
        Buffer.from('{"tx_id":'),
      ],
    );
    const ids = rows.map((r) => r.id);
    const replay = (dryRun: boolean) =>
      client.workflow.execute('dlqReplay', {
        taskQueue,
        workflowId: `it-dlq-${randomUUID()}`,
        args: [{ ids, dryRun }],
      }) as Promise<{ applied: number; stillFailing: number; matched: number; skipped: number }>;

    const dry = await replay(true);
    expect(dry).toMatchObject({ matched: 2, applied: 1, stillFailing: 1 });
    expect((await fetch(`${api.url}/admin/tx/${good.tx_id}`)).status).toBe(404);

    const first = await replay(false);
    expect(first).toMatchObject({ applied: 1, stillFailing: 1 });
    const entry = await (await fetch(`${api.url}/admin/tx/${good.tx_id}`)).json();
    expect(entry.amount).toBe('10.00');
    const marks = await pool.query(
      'select replay_result from bo.consumer_dlq_events where id = any($1::bigint[]) order by id',
      [ids],
    );
    expect(marks.rows.map((r) => r.replay_result)).toEqual(['APPLIED', 'STILL_FAILING']);

    const snapshot = await pool.query('select * from bo.ledger_entries where tx_id = $1', [good.tx_id]);
    const second = await replay(false);
    expect(second.applied).toBe(0);
    expect((await pool.query('select * from bo.ledger_entries where tx_id = $1', [good.tx_id])).rows).toEqual(
      snapshot.rows,
    );
  });

  it('fails fast, without retries, on an unknown reason, naming the field, and records the run as FAILED', async () => {
    const workflowId = `it-dlq-${randomUUID()}`;
    const t0 = Date.now();
    const outcome = await Promise.race([
      client.workflow
        .execute('dlqReplay', { taskQueue, workflowId, args: [{ reason: 'NOT_A_REASON' }] })
        .then(
          () => new Error('dlqReplay succeeded on an unknown reason'),
          (err: unknown) => err,
        ),
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000)),
    ]);
    // A retried activity would still be backing off: stop it so it does not outlive the test.
    if (outcome === 'timeout') await client.workflow.getHandle(workflowId).terminate('test timed out');
    expect(outcome).toBeInstanceOf(WorkflowFailedError);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const cause = (outcome as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('InvalidInputError');
    expect(cause?.message).toContain('reason');
    expect(cause?.message).toContain('NOT_A_REASON');
    const { rows } = await pool.query(
      'select status, reason, finished_at from bo.ops_runs where run_id = $1',
      [workflowId],
    );
    expect(rows[0]).toMatchObject({ status: 'FAILED', reason: 'InvalidInputError' });
    expect(rows[0].finished_at).not.toBeNull();
  });
});

describe('l3Regression and its schedule on the real stack', () => {
  it('passes against a running consumer: 200/404, pairing COMPLETE, LWW out of order, DLQ row, freshness', async () => {
    const consumer = createSyncConsumer({
      groupId: `it-l3-${run}`,
      profile,
      start: 'latest',
      pool,
      brokers: e.KAFKA_BROKERS,
    });
    await consumer.start();
    try {
      const r = (await client.workflow.execute('l3Regression', {
        taskQueue,
        workflowId: `it-l3-${randomUUID()}`,
        args: [{ syncTimeoutSec: 60 }],
      })) as L3RegressionResult;
      expect(r.checks.filter((c) => !c.ok)).toEqual([]);
      expect(r.passed).toBe(true);
      expect(r.checks.map((c) => c.name)).toEqual([
        'api_200',
        'api_404',
        'pairing_complete',
        'out_of_order_lww',
        'dlq_row',
        'freshness',
      ]);
    } finally {
      await consumer.stop();
    }
  });

  it('`schedules apply` twice creates, then updates, one weekly schedule with overlap skip', async () => {
    const first = await applyL3Schedule(client, e);
    const second = await applyL3Schedule(client, e);
    expect(['created', 'updated']).toContain(first);
    expect(second).toBe('updated');
    const all = await listSchedules(client);
    expect(all.filter((s) => s.id === L3_SCHEDULE_ID)).toHaveLength(1);
    const desc = await client.schedule.getHandle(L3_SCHEDULE_ID).describe();
    expect(desc.policies.overlap).toBe('SKIP');
    expect(desc.action.type === 'startWorkflow' && desc.action.workflowType).toBe('l3Regression');
  });
});

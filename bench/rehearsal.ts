// Cutover rehearsal at scale: the real `cutoverRehearsal` workflow (SPEC §6) over N pre-cutover dump lines and
// M post-cutover Kafka events, timed per step. Target: GO in under 5 minutes on this machine.
//
//   npm run bench:rehearsal -- [--rows 1000000] [--events 100000] [--keep]
//
// Everything runs in this process against the real stack (`bash ops/stack up`): an Admin API on an ephemeral
// port (auth disabled), an ops worker on a private task queue, fresh topics `bench-<id>-ledger|order`
// (2 partitions), and a gzip NDJSON dump of synthetic payments (SYNTH_DEFAULTS: duplicates, out-of-order,
// ~1% malformed) whose event times are all before T_cutover. Data generation is timed apart from the
// rehearsal. Rows, DLQ rows, checkpoints, the ops_runs row, topics, consumer groups and the temp dir are
// removed afterwards unless --keep (the API's audit rows stay: the audit trail is append-only).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Kafka } from 'kafkajs';
import type pg from 'pg';
import type { RunningServer } from '../api/server';
import type { EventProfile } from '../contract';
import type {
  CutoverRehearsalResult,
  RehearsalProgress,
  RehearsalStepName,
  StepRecord,
} from '../workflows/types';

const USAGE = 'usage: npm run bench:rehearsal -- [--rows 1000000] [--events 100000] [--keep]';
const TARGET_SEC = 300;
const STEPS: RehearsalStepName[] = ['preflight', 'migrate', 'backfill', 'sync', 'smoke', 'idempotency'];

// core/log reads LOG_LEVEL when it is first imported, so the project's modules are imported dynamically,
// after this default: the figures must not drown in per-chunk/per-batch info logs.
process.env.LOG_LEVEL ??= 'warn';
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
const { intFlag, runCli } = await import('../sync/cli-args');
const { loadEnv } = await import('../core/env');
const { requireStack } = await import('./stack-check');
const { getProfile } = await import('../contract');
const { createKafka, ensureTopics, withTopics } = await import('../sync/kafka');
const { generatePayments, produceEvents, SYNTH_DEFAULTS, writeDump } = await import('../sync/synth');
const { createPool } = await import('../db/pool');
const { createAuditPool, GroupCommitAuditWriter } = await import('../api/audit');
const { createDisabledAuthenticator } = await import('../api/auth');
const { createApi } = await import('../api/http');
const { startServer } = await import('../api/server');
const { connectClient } = await import('../temporal/client');
const { createOpsWorker } = await import('../temporal/worker');
const { DefaultLogger, Runtime } = await import('@temporalio/worker');

const id = randomBytes(3).toString('hex');
const prefix = `bench-${id}-`;
const workflowId = `${prefix}rehearsal`;
const taskQueue = `${prefix.slice(0, -1)}`;

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const secs = (ms: number): string => (ms / 1000).toFixed(1);
const elapsed = (t0: number): number => performance.now() - t0;

// --- data ----------------------------------------------------------------------------------------------

/** Events (= dump lines = Kafka messages) per payment of the generator with these options, from a small run. */
function eventsPerPayment(profile: EventProfile): number {
  const payments = 5000;
  let events = 0;
  for (const _ of generatePayments({
    ...SYNTH_DEFAULTS,
    profile,
    payments,
    seed: 1,
    idPrefix: `${prefix}cal-`,
    startTime: new Date(0),
  }))
    events += 1;
  return events / payments;
}

// --- cleanup -------------------------------------------------------------------------------------------

async function cleanup(o: {
  pool: pg.Pool;
  kafka: Kafka;
  topics: string[];
  groups: string[];
  tmp: string;
}): Promise<void> {
  const like = `${prefix}%`;
  const deleted: string[] = [];
  const del = async (table: string, where: string, params: unknown[]): Promise<void> => {
    const r = await o.pool.query(`delete from bo.${table} where ${where}`, params);
    deleted.push(`${table} ${fmt(r.rowCount ?? 0)}`);
  };
  await del('payment_ledger_pairs', 'related_id like $1', [like]);
  await del('ledger_entries', 'tx_id like $1', [like]);
  await del('payment_orders', 'order_id like $1', [like]);
  await del('consumer_dlq_events', 'topic like $1 or dump_file like $2', [like, `%bench-%${id}%`]);
  await del('backfill_checkpoints', 'checkpoint_id like $1', [`rehearsal-${prefix}%`]);
  await del('ops_runs', 'run_id = $1', [workflowId]);
  const admin = o.kafka.admin();
  await admin.connect();
  try {
    if (o.groups.length) await admin.deleteGroups(o.groups).catch(() => undefined);
    if (o.topics.length) await admin.deleteTopics({ topics: o.topics }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
  await fs.promises.rm(o.tmp, { recursive: true, force: true });
  console.log(
    `cleanup: deleted ${deleted.join(', ')}; topics ${o.topics.join(', ')}; ${o.groups.length} consumer groups; ${o.tmp}`,
  );
}

// --- main ----------------------------------------------------------------------------------------------

function stepLine(s: StepRecord | undefined, name: RehearsalStepName): string {
  if (!s) return `  ${name.padEnd(12)} (not run)`;
  const counts = Object.entries(s.counts ?? {})
    .map(([k, v]) => `${k}=${typeof v === 'number' ? fmt(v) : String(v)}`)
    .join(' ');
  const dur = s.durationSec === undefined ? '     -' : `${s.durationSec.toFixed(1).padStart(6)} s`;
  return `  ${name.padEnd(12)} ${dur}  ${s.status.padEnd(7)} ${counts}${s.error ? `  error: ${s.error}` : ''}`;
}

await runCli(USAGE, async () => {
  const { values } = parseArgs({
    options: { rows: { type: 'string' }, events: { type: 'string' }, keep: { type: 'boolean' } },
    strict: true,
  });
  const rows = intFlag(values.rows, 'rows', 1_000_000, 1000);
  const events = intFlag(values.events, 'events', 100_000, 100);
  const keep = values.keep ?? false;

  const profile = withTopics(getProfile('canonical-v1'), {
    ledger: `${prefix}ledger`,
    order: `${prefix}order`,
  });
  const e = loadEnv({
    ...process.env,
    KAFKA_TOPIC_LEDGER: profile.topics.ledger,
    KAFKA_TOPIC_ORDER: profile.topics.order,
  });
  if (!(await requireStack(e, ['postgres', 'kafka', 'temporal']))) return 1;

  console.log(
    `bench:rehearsal run ${id}: ${fmt(rows)} dump lines, ${fmt(events)} Kafka events; ${os.cpus().length} CPUs; target GO in < ${TARGET_SEC} s`,
  );
  const tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), `txl-bench-${id}-`));
  const dumpDir = path.join(tmp, 'dump');
  await fs.promises.mkdir(dumpDir);
  const pool = createPool(e.DATABASE_URL, 4);
  const kafka = createKafka({ brokers: e.KAFKA_BROKERS });
  const topics: string[] = [];
  const groups: string[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  try {
    await pool.query('select 1');

    // Data (not part of the rehearsal): fresh topics, the dump before T_cutover, the events after it.
    const tGen = performance.now();
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [profile.topics.ledger, profile.topics.order], 2);
    await admin.disconnect();
    topics.push(profile.topics.ledger, profile.topics.order);

    const perPayment = eventsPerPayment(profile);
    const tCutover = new Date();
    const spanSec = SYNTH_DEFAULTS.spanSec;
    const dumpFile = path.join(dumpDir, `${prefix}dump.ndjson.gz`);
    const tDump = performance.now();
    const dumpLines = await writeDump(
      generatePayments({
        ...SYNTH_DEFAULTS,
        profile,
        payments: Math.max(1, Math.round(rows / perPayment)),
        seed: 101,
        idPrefix: `${prefix}d-`,
        // Ends two minutes before T_cutover: the last settlements land a few seconds after their payment starts.
        startTime: new Date(tCutover.getTime() - (spanSec + 120) * 1000),
        spanSec,
      }),
      dumpFile,
    );
    const dumpMs = elapsed(tDump);
    console.log(
      `data: dump ${fmt(dumpLines)} lines (${(fs.statSync(dumpFile).size / 1e6).toFixed(1)} MB gz, ${perPayment.toFixed(2)} lines/payment) in ${secs(dumpMs)} s`,
    );

    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    closers.push(() => producer.disconnect());
    const tProduce = performance.now();
    const produced = await produceEvents(
      generatePayments({
        ...SYNTH_DEFAULTS,
        profile,
        payments: Math.max(1, Math.round(events / perPayment)),
        seed: 202,
        idPrefix: `${prefix}k-`,
        startTime: new Date(),
        spanSec: 60,
      }),
      { producer, profile, batchSize: 2000 },
    );
    const produceMs = elapsed(tProduce);
    console.log(
      `data: produced ${fmt(produced)} events after T_cutover in ${secs(produceMs)} s; total data generation ${secs(elapsed(tGen))} s (not part of the rehearsal)`,
    );

    // The Admin API the smoke and idempotency steps call over real HTTP (auth disabled: a local stack).
    const apiDb = createPool(e.DATABASE_URL, 4);
    const auditPool = createAuditPool(e.DATABASE_URL);
    const audit = new GroupCommitAuditWriter(auditPool);
    const api: RunningServer = await startServer(
      createApi({
        db: apiDb,
        audit,
        authenticator: createDisabledAuthenticator(),
        cursorSecret: e.CURSOR_SECRET,
        baseUrl: 'http://127.0.0.1',
      }),
      { host: '127.0.0.1', port: 0 },
    );
    closers.push(async () => {
      await api.close();
      await audit.close();
      await Promise.all([apiDb.end(), auditPool.end()]);
    });

    // The worker: its workflow bundle is built here (seconds), before the clock of the rehearsal starts.
    Runtime.install({ logger: new DefaultLogger('WARN') });
    // The activities' own pool (the default would be the process-wide one, which nobody here would close).
    const workerPool = createPool(e.DATABASE_URL);
    closers.push(() => workerPool.end());
    const tWorker = performance.now();
    const { worker, connection }: { worker: Worker; connection: NativeConnection } = await createOpsWorker({
      env: e,
      deps: {
        profile,
        apiBaseUrl: api.url,
        evidenceDir: path.join(tmp, 'evidence'),
        demoDumpPath: dumpDir,
        pool: workerPool,
      },
      taskQueue,
    });
    closers.push(() => connection.close());
    const client: Client = await connectClient(e);
    closers.push(() => client.connection.close());
    console.log(
      `setup: API ${api.url}, worker on task queue ${taskQueue} ready in ${secs(elapsed(tWorker))} s`,
    );

    // The rehearsal: wall time from start to result; phases of the idempotency step seen through the query.
    const phaseSeenAt = new Map<string, number>();
    const t0 = performance.now();
    const handle = await client.workflow.start('cutoverRehearsal', {
      taskQueue,
      workflowId,
      args: [
        {
          tCutover: tCutover.toISOString(),
          dumpPath: dumpDir,
          syncTimeoutSec: 600,
          idempotency: { sampleSize: 20 },
        },
      ],
    });
    let finished = false;
    const watch = (async () => {
      let lastPrint = performance.now();
      while (!finished) {
        await new Promise((r) => setTimeout(r, 500));
        if (finished) break;
        try {
          const p = await handle.query<RehearsalProgress>('progress');
          if (!phaseSeenAt.has(p.phase)) phaseSeenAt.set(p.phase, performance.now());
          if (performance.now() - lastPrint > 15_000) {
            lastPrint = performance.now();
            process.stderr.write(`  ... ${secs(elapsed(t0))} s: ${p.phase}\n`);
          }
        } catch {
          /* the workflow may be closing; the result decides */
        }
      }
    })();
    let result: CutoverRehearsalResult;
    try {
      result = (await worker.runUntil(handle.result())) as CutoverRehearsalResult;
    } finally {
      finished = true;
      await watch;
    }
    const totalMs = elapsed(t0);
    if (result.evidence.consumerGroup)
      groups.push(result.evidence.consumerGroup, `${result.evidence.consumerGroup}-replay`);

    console.log(`rehearsal ${workflowId}: T_cutover ${tCutover.toISOString()}`);
    for (const name of STEPS)
      console.log(
        stepLine(
          result.steps.find((s) => s.name === name),
          name,
        ),
      );
    // The idempotency step re-runs the backfill and replays the sync window: its phases, as sampled by the
    // progress query (every 0.5 s), each ending when the next one was first seen.
    const seen = [...phaseSeenAt, ['end', t0 + totalMs] as const];
    const idemPhases = seen.flatMap(([phase, at], i) =>
      phase.startsWith('idempotency:') && seen[i + 1]
        ? [`${phase.slice('idempotency: '.length)} ~${secs(seen[i + 1]![1] - at)} s`]
        : [],
    );
    if (idemPhases.length) console.log(`    idempotency phases: ${idemPhases.join(', ')}`);
    const b = result.evidence.backfill;
    const s = result.evidence.sync;
    if (b)
      console.log(
        `backfill: ${fmt(b.linesRead)} lines in ${b.seconds.toFixed(1)} s = ${fmt(b.linesRead / b.seconds)} lines/s (applied ${fmt(b.rowsApplied)}, dlq ${fmt(b.rowsDlq)}, after T_cutover ${fmt(b.rowsSkippedAfterUntil)})`,
      );
    if (s)
      console.log(
        `sync: ${fmt(s.consumed)} events in ${s.seconds.toFixed(1)} s (group join included) = ${fmt(s.consumed / s.seconds)} events/s (applied ${fmt(s.applied)}, dlq ${fmt(s.dlq)}, lag at end ${s.lagAtEnd})`,
      );
    console.log(`total rehearsal wall time: ${secs(totalMs)} s`);
    console.log(
      `verdict: ${result.verdict} reason: ${result.reason}${result.reason === 'NONE' ? '' : ` (${result.detail})`}`,
    );
    const met = result.verdict === 'GO' && totalMs < TARGET_SEC * 1000;
    console.log(
      `target: GO in < ${TARGET_SEC} s -> ${met ? 'met' : 'NOT met'} (${result.verdict}, ${secs(totalMs)} s for ${fmt(dumpLines)} dump lines + ${fmt(produced)} events)`,
    );
    if (keep) console.log(`kept: ids ${prefix}*, report ${result.evidence.reportPath ?? '(none)'}`);
    return result.verdict === 'GO' ? 0 : 1;
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    if (!keep)
      await cleanup({ pool, kafka, topics, groups, tmp }).catch((err: unknown) =>
        console.error('cleanup failed:', err),
      );
    await pool.end();
  }
});

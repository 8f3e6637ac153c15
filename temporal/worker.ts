// The ops worker: runs the workflows of workflows/ and the activities of activities/ on task queue txlookup-ops.
// `npm run worker` — a small entry point, as in Temporal's samples; createOpsWorker is reused by tests.
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { envOrExit, type Env } from '../core/env';
import { logger } from '../core/log';
import { serveMetrics } from '../core/metrics';
import { getPool } from '../db/pool';
import { profileFromEnv } from '../core/profile';
import { workflowsPath } from './paths';

export { workflowsPath };

export function activityDepsFromEnv(e: Env): ActivityDeps {
  return {
    pool: getPool(),
    databaseUrl: e.DATABASE_URL,
    brokers: e.KAFKA_BROKERS,
    profile: profileFromEnv(e),
    apiBaseUrl: e.API_BASE_URL,
    apiToken: e.OPS_API_TOKEN,
    appEnv: e.APP_ENV,
    evidenceDir: e.EVIDENCE_DIR,
    demoDumpPath: e.DEMO_DUMP_PATH,
  };
}

export async function createOpsWorker(opts: {
  env: Env;
  deps?: Partial<ActivityDeps>;
  taskQueue?: string;
  workerOptions?: Partial<WorkerOptions>;
}): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = await NativeConnection.connect({ address: opts.env.TEMPORAL_ADDRESS });
  const deps = { ...activityDepsFromEnv(opts.env), ...opts.deps };
  const worker = await Worker.create({
    connection,
    namespace: opts.env.TEMPORAL_NAMESPACE,
    taskQueue: opts.taskQueue ?? opts.env.TEMPORAL_TASK_QUEUE,
    // Tests pass a prebuilt workflowBundle; the worker process bundles workflows/ itself.
    ...(opts.workerOptions?.workflowBundle ? {} : { workflowsPath }),
    activities: createActivities(deps),
    ...opts.workerOptions,
  });
  return { worker, connection };
}

async function main(): Promise<void> {
  const e = envOrExit();
  const log = logger('worker');
  const metrics = serveMetrics(e.WORKER_METRICS_PORT);
  const { worker, connection } = await createOpsWorker({ env: e });
  log.info('worker started', {
    taskQueue: e.TEMPORAL_TASK_QUEUE,
    temporal: e.TEMPORAL_ADDRESS,
    metricsPort: e.WORKER_METRICS_PORT,
  });
  try {
    await worker.run(); // returns after SIGINT/SIGTERM (the SDK's default shutdown signals) once tasks drain
  } finally {
    await connection.close();
    metrics.close();
    await getPool().end();
    log.info('worker stopped');
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    logger('worker').error('worker failed', { err });
    process.exit(1);
  });
}

// CLI: npm run consumer — the long-running sync consumer process.
// Config from env (core/env.ts): EVENT_PROFILE_ID (+ optional KAFKA_TOPIC_LEDGER / KAFKA_TOPIC_ORDER),
// CONSUMER_GROUP (policy bo-sync-<env>-<owner>-v<generation>), CONSUMER_START, CONSUMER_METRICS_PORT.
// SIGTERM / SIGINT: finish the batch in flight, commit, leave the group, exit 0.
import { getProfile, type EventProfile } from '../contract';
import { envOrExit } from '../core/env';
import { logger } from '../core/log';
import { serveMetrics } from '../core/metrics';
import { closePool } from '../db/pool';
import { createSyncConsumer, type StartPosition } from './consumer';
import { withTopics } from './kafka';

const log = logger('consumer-main');
const config = envOrExit();

let profile: EventProfile;
try {
  profile = withTopics(getProfile(config.EVENT_PROFILE_ID), {
    ledger: config.KAFKA_TOPIC_LEDGER,
    order: config.KAFKA_TOPIC_ORDER,
  });
} catch (err) {
  process.stderr.write(`EVENT_PROFILE_ID: ${(err as Error).message}\n`);
  process.exit(2);
}

const start: StartPosition =
  config.CONSUMER_START === 'earliest' || config.CONSUMER_START === 'latest'
    ? config.CONSUMER_START
    : new Date(config.CONSUMER_START);

const metricsServer = serveMetrics(config.CONSUMER_METRICS_PORT);
metricsServer.on('error', (err) =>
  log.warn('metrics endpoint unavailable', { port: config.CONSUMER_METRICS_PORT, err }),
);

let shuttingDown = false;
const consumer = createSyncConsumer({
  groupId: config.CONSUMER_GROUP,
  profile,
  start,
  onCrash: (err) => void shutdown(`crash: ${err.message}`, 1),
});

async function shutdown(why: string, code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  log.info('shutting down', { why });
  clearInterval(statsTimer);
  try {
    await consumer.stop();
  } finally {
    await closePool().catch(() => undefined);
    metricsServer.close();
    process.exitCode = code;
  }
}

process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
process.once('SIGINT', () => void shutdown('SIGINT', 0));

const statsTimer = setInterval(
  () => log.info('stats', { groupId: config.CONSUMER_GROUP, ...consumer.stats() }),
  30_000,
);
statsTimer.unref();

try {
  await consumer.start();
  log.info('consuming', {
    groupId: config.CONSUMER_GROUP,
    profile: profile.id,
    topics: profile.topics,
    metricsPort: config.CONSUMER_METRICS_PORT,
  });
} catch (err) {
  log.error('consumer failed to start', { err });
  process.stderr.write(`consumer failed to start: ${(err as Error).message}\n`);
  await shutdown('start failed', 1);
}

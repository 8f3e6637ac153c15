// Kafka plumbing shared by the consumer, the synthetic producer, the benchmarks and the tests:
// one way to build a client (logs through core/log), topic creation, header decoding, topic overrides.
import { Kafka, logLevel, type Admin, type IHeaders, type LogEntry } from 'kafkajs';
import type { EventProfile, StreamKind } from '../contract';
import { env } from '../core/env';
import { logger } from '../core/log';

const kafkaLog = logger('kafkajs');

// kafkajs logs through core/log as JSON; its INFO chatter (joins, commits) is demoted to debug.
function kafkaLogCreator() {
  return ({ namespace, level, log }: LogEntry) => {
    const { message, timestamp: _ts, ...extra } = log;
    const fields = { namespace, ...extra };
    if (level === logLevel.ERROR) kafkaLog.error(message, fields);
    else if (level === logLevel.WARN) kafkaLog.warn(message, fields);
    else kafkaLog.debug(message, fields);
  };
}

export function createKafka(opts: { brokers?: string[]; clientId?: string } = {}): Kafka {
  return new Kafka({
    clientId: opts.clientId ?? env().KAFKA_CLIENT_ID,
    brokers: opts.brokers ?? env().KAFKA_BROKERS,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator,
    connectionTimeout: 3000,
    requestTimeout: 30000,
  });
}

/** A copy of the profile with other topic names (same decoding rules); used for per-test topics and env overrides. */
export function withTopics(profile: EventProfile, topics: Partial<Record<StreamKind, string>>): EventProfile {
  return {
    ...profile,
    topics: { ledger: topics.ledger ?? profile.topics.ledger, order: topics.order ?? profile.topics.order },
  };
}

/** Creates the topics that do not exist yet (idempotent); waits for their leaders. */
export async function ensureTopics(admin: Admin, topics: string[], numPartitions = 2): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length === 0) return;
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((topic) => ({ topic, numPartitions, replicationFactor: 1 })),
  });
}

/** Kafka headers as utf8 strings (the DLQ keeps them readable); repeated headers are joined with ", ". */
export function headersToStrings(headers: IHeaders | undefined): Record<string, string> | null {
  if (!headers) return null;
  const out: Record<string, string> = {};
  let any = false;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const parts = Array.isArray(value) ? value : [value];
    out[name] = parts.map((p) => (Buffer.isBuffer(p) ? p.toString('utf8') : String(p))).join(', ');
    any = true;
  }
  return any ? out : null;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const RETRIABLE_TYPES = new Set([
  'COORDINATOR_LOAD_IN_PROGRESS',
  'COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR',
  'NOT_COORDINATOR_FOR_GROUP',
  'LEADER_NOT_AVAILABLE',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'NOT_LEADER_FOR_PARTITION',
  'REQUEST_TIMED_OUT',
]);

/** True for broker errors worth retrying (coordinator loading/moving, leader election, connection loss). */
export function isRetriableKafkaError(err: unknown): boolean {
  const e = err as { retriable?: unknown; type?: unknown; name?: unknown } | null;
  if (!e) return false;
  if (typeof e.type === 'string' && RETRIABLE_TYPES.has(e.type)) return true;
  if (e.name === 'KafkaJSConnectionError' || e.name === 'KafkaJSRequestTimeoutError') return true;
  return e.retriable === true;
}

/** Runs an admin call, retrying retriable broker errors with backoff for up to `totalMs`. */
export async function withKafkaRetry<T>(what: string, fn: () => Promise<T>, totalMs = 30_000): Promise<T> {
  const deadline = Date.now() + totalMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetriableKafkaError(err) || Date.now() >= deadline) throw err;
      kafkaLog.warn('kafka call failed, retrying', { what, attempt, err });
      await sleep(Math.min(2000, 100 * 2 ** (attempt - 1)));
    }
  }
}

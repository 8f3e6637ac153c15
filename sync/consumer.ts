// The sync consumer: Kafka -> contract -> one DB transaction per batch -> offset commit.
// A factory with no process-global state so the CLI (consumer-main.ts) and Temporal activities can
// both run it; it never exits the process.
//
// Guarantees (SPEC §1.4, §2):
// - offsets are committed only after the batch's DB transaction committed (at-least-once; the data
//   layer's LWW makes re-delivery a no-op);
// - undecodable messages and rows the DB refuses deterministically go to bo.consumer_dlq_events in the
//   same transaction, so a poison message never stalls its partition;
// - a partition's batches apply and commit in order, one at a time, while the next one is fetched and
//   decoded (lanes.ts);
// - transient failures (DB or broker down) are retried with backoff while heartbeating, never
//   dead-lettered and never committed past; a stop requested during a retry abandons the batch.
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type pg from 'pg';
import type { DlqReason, EventProfile, StreamKind } from '../contract';
import { env } from '../core/env';
import { logger } from '../core/log';
import {
  consumerContractProfileInfo,
  consumerContractStatusUnknownTotal,
  consumerDlqTotal,
  consumerEventLag,
  consumerFreshness,
  consumerKafkaLag,
  consumerMessagesTotal,
  consumerTransientRetriesTotal,
  consumerVersionMissingTotal,
  pairingOutcomesTotal,
} from '../core/metrics';
import {
  applyBatch,
  type ApplyResult,
  type BatchInput,
  type BatchResult,
  type PairingSummary,
} from '../db/apply';
import { classifyPgError, TransientDbError } from '../db/errors';
import { getPool } from '../db/pool';
import { batchSize, decodeKafkaBatch, splitBatchInput } from './batch';
import { createKafka, sleep, withKafkaRetry } from './kafka';
import { PartitionLanes } from './lanes';

export type StartPosition = 'earliest' | 'latest' | Date;

export interface BatchCommittedInfo {
  topic: string;
  partition: number;
  stream: StreamKind | null;
  firstOffset: string;
  lastOffset: string;
  /** The offset committed for the partition (last offset + 1). */
  committedOffset: string;
  messages: number;
  applied: number;
  unchanged: number;
  stale: number;
  dlq: number;
  committedAt: Date;
  /** High watermark minus the committed offset when the batch was fetched. */
  lag: number;
  durationMs: number;
  /** Kafka record timestamps (ms) of the batch's messages: freshness = committedAt - timestamp. */
  recordTimestamps: number[];
}

export interface SyncConsumerOptions {
  groupId: string;
  profile: EventProfile;
  /** Where a group WITHOUT committed offsets starts; a group with committed offsets resumes from them. */
  start: StartPosition;
  /** Re-position the group at `start` even if it has committed offsets (explicit reprocessing). */
  resetOffsets?: boolean;
  pool?: pg.Pool;
  brokers?: string[];
  clientId?: string;
  partitionsConsumedConcurrently?: number;
  maxWaitTimeInMs?: number;
  /** Group session timeout (default env CONSUMER_SESSION_TIMEOUT_MS). */
  sessionTimeoutMs?: number;
  onBatchCommitted?(info: BatchCommittedInfo): void;
  /** Called when kafkajs gives up (a crash it does not restart from); the consumer is then stopped. */
  onCrash?(err: Error): void;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  /** Committed offset of the group, null when the group has none for this partition. */
  committed: string | null;
  low: string;
  high: string;
  lag: number;
}

export interface ConsumerLag {
  total: number;
  partitions: PartitionLag[];
}

export interface SyncConsumerStats {
  consumed: number;
  /** Rows inserted or updated. */
  applied: number;
  /** Rows identical to the stored one (re-delivery). */
  unchanged: number;
  /** Rows that lost to a newer stored version (LWW). */
  stale: number;
  /** Messages dead-lettered (undecodable or DB_REJECTED). */
  dlq: number;
  batches: number;
  transientRetries: number;
}

export interface SyncConsumer {
  readonly groupId: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  lag(): Promise<ConsumerLag>;
  /**
   * Resolves true once the group's committed offsets reach the high watermarks seen when the call
   * started (everything published before the call is applied), false on timeout. Rejects with the
   * signal's reason when aborted, or with the crash error if the consumer crashed.
   */
  waitUntilCaughtUp(opts: {
    timeoutMs: number;
    signal?: AbortSignal;
    onProgress?(lag: ConsumerLag): void;
    pollMs?: number;
  }): Promise<boolean>;
  stats(): SyncConsumerStats;
}

const MAX_BACKOFF_MS = 5000;
const REBALANCE_ERROR_TYPES = new Set([
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
]);

function isRebalanceError(err: unknown): boolean {
  const type = (err as { type?: unknown } | null)?.type;
  return typeof type === 'string' && REBALANCE_ERROR_TYPES.has(type);
}

/** transient: retry forever; deterministic: isolate the row; unknown: retry a few times, then isolate. */
export function classifyApplyError(err: unknown): 'transient' | 'deterministic' | 'unknown' {
  if (err instanceof TransientDbError) return 'transient';
  if ((err as { retriable?: unknown } | null)?.retriable === true) return 'transient';
  return classifyPgError(err);
}

export function backoffMs(attempt: number): number {
  const base = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

function emptyPairing(): PairingSummary {
  return { opened: 0, completed: 0, conflicts: 0, unpairable: 0 };
}

export function createSyncConsumer(opts: SyncConsumerOptions): SyncConsumer {
  const log = logger('consumer');
  const { groupId, profile } = opts;
  const topics = [profile.topics.ledger, profile.topics.order];
  const pool = opts.pool ?? getPool();
  const concurrency = opts.partitionsConsumedConcurrently ?? env().CONSUMER_PARTITIONS_CONCURRENCY;
  const maxWaitTimeInMs = opts.maxWaitTimeInMs ?? env().CONSUMER_MAX_WAIT_MS;
  const counters: SyncConsumerStats = {
    consumed: 0,
    applied: 0,
    unchanged: 0,
    stale: 0,
    dlq: 0,
    batches: 0,
    transientRetries: 0,
  };

  let kafka: Kafka | undefined;
  let admin: Admin | undefined;
  let consumer: Consumer | undefined;
  let started = false;
  let stopping = false;
  let crashError: Error | undefined;
  // Start positions of partitions without commits; a partition leaves the map once we commit it.
  const startTargets = new Map<string, { topic: string; partition: number; offset: string }>();
  const needsSeek = (): boolean => opts.resetOffsets === true || opts.start !== 'earliest';

  const getAdmin = async (): Promise<Admin> => {
    kafka ??= createKafka({ brokers: opts.brokers, clientId: opts.clientId });
    if (!admin) {
      admin = kafka.admin();
      await admin.connect();
    }
    return admin;
  };

  /** Waits `ms` in short slices, heartbeating so the group does not evict us; returns early on stop. */
  async function waitHeartbeating(ms: number, heartbeat: () => Promise<void>): Promise<void> {
    const until = Date.now() + ms;
    while (!stopping && Date.now() < until) {
      await sleep(Math.min(500, until - Date.now()));
      try {
        await heartbeat();
      } catch (err) {
        if (isRebalanceError(err)) throw err; // let kafkajs rejoin; the batch is redelivered from the last commit
        // broker unreachable: keep waiting, kafkajs reconnects on the next call
      }
    }
  }

  /**
   * Applies the batch in one transaction, retrying transient failures forever (with backoff), and
   * isolating a row that fails the whole batch deterministically (halving until it is alone, then
   * dead-lettering it as DB_REJECTED). Returns null when a stop was requested during a retry.
   */
  async function applyResilient(
    input: BatchInput,
    heartbeat: () => Promise<void>,
    where: string,
  ): Promise<BatchResult[] | null> {
    let transientAttempts = 0;
    let unknownFailures = 0;
    for (;;) {
      try {
        return [await applyBatch(pool, input)];
      } catch (err) {
        const kind = classifyApplyError(err);
        if (kind === 'deterministic' || (kind === 'unknown' && ++unknownFailures >= 3)) {
          log.error('batch failed deterministically; isolating the offending row', {
            where,
            rows: batchSize(input),
            err,
          });
          return isolate(input, err, heartbeat, where);
        }
        transientAttempts += 1;
        counters.transientRetries += 1;
        consumerTransientRetriesTotal.inc();
        const delay = backoffMs(transientAttempts);
        log.warn('transient failure, retrying the batch', {
          where,
          attempt: transientAttempts,
          delayMs: delay,
          kind,
          err,
        });
        await waitHeartbeating(delay, heartbeat);
        if (stopping) {
          log.warn('stop requested during a retry; abandoning the batch without committing', { where });
          return null;
        }
      }
    }
  }

  async function isolate(
    input: BatchInput,
    err: unknown,
    heartbeat: () => Promise<void>,
    where: string,
  ): Promise<BatchResult[] | null> {
    if (batchSize(input) > 1) {
      const results: BatchResult[] = [];
      for (const half of splitBatchInput(input)) {
        if (batchSize(half) === 0) continue;
        const r = await applyResilient(half, heartbeat, where);
        if (!r) return null;
        results.push(...r);
      }
      return results;
    }
    const single = input.entries[0] ?? input.orders[0];
    if (!single) throw err; // a lone DLQ row the DB refuses: nothing left to isolate, let kafkajs restart us
    const detail = `${err instanceof Error ? err.message : String(err)}`.slice(0, 300);
    const asDlq: BatchInput = {
      entries: [],
      orders: [],
      dlq: [{ ...single.dlq, reason: 'DB_REJECTED', error_detail: detail }],
      source: input.source,
    };
    const r = await applyResilient(asDlq, heartbeat, where);
    if (!r) return null;
    // Report it as a rejected row of the right kind so the accounting stays per message.
    const rejected: ApplyResult = {
      outcomes: ['rejected'],
      rejected: [{ index: 0, detail }],
      pairing: emptyPairing(),
      versionMissing: 0,
    };
    const none: ApplyResult = { outcomes: [], rejected: [], pairing: emptyPairing(), versionMissing: 0 };
    const first = r[0];
    if (!first) return r;
    return [
      {
        ...first,
        dlqInserted: 0,
        ledger: input.entries.length ? rejected : none,
        orders: input.orders.length ? rejected : none,
      },
    ];
  }

  // Batch N of a partition applies while batch N+1 is fetched and decoded (see lanes.ts).
  const lanes = new PartitionLanes();

  async function eachBatch({
    batch,
    resolveOffset,
    heartbeat,
    commitOffsetsIfNecessary,
    isStale,
  }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0) return;
    const { topic, partition } = batch;
    const key = `${topic}/${partition}`;
    // Per-partition order: this batch is applied only after the previous one committed (or failed).
    await lanes.idle(key);
    if (stopping) return; // nothing resolved, nothing committed: the next start resumes from the last commit
    if (lanes.hasFailure(key)) {
      // The previous batch failed after its offset had been resolved for fetching, and its partition was
      // rewound to it (rewind below). Batches fetched before the rewind are dropped unresolved; the first one
      // after it rethrows, so kafkajs restarts the consumer from the committed offsets, as for any failed batch.
      if (isStale()) return;
      throw lanes.takeFailure(key);
    }

    const started = Date.now();
    const firstOffset = batch.firstOffset() ?? batch.lastOffset();
    const where = `${topic}[${partition}]@${firstOffset}`;
    const decoded = decodeKafkaBatch(profile, topic, partition, batch.messages, 'consumer');
    const lastOffset = batch.lastOffset();
    // With autoCommit off this moves kafkajs' FETCH position only; the offset is committed after the DB commit.
    resolveOffset(lastOffset);
    lanes.start(
      key,
      async () => {
        const results = await applyResilient(decoded.input, heartbeat, where);
        if (!results) return; // abandoned on stop: not committed

        const next = (BigInt(lastOffset) + 1n).toString();
        await commitWithRetry(
          () => commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: next }] }] }),
          where,
        );
        startTargets.delete(key);
        // Keeps the session alive after a long apply; a rebalance it reports is kafkajs' to handle (its own
        // heartbeat sees it too), the batch is committed.
        await heartbeat().catch(() => undefined);

        const committedAt = results[results.length - 1]?.committedAt ?? new Date();
        const lag = Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(next)));
        consumerKafkaLag.set({ topic, partition: String(partition) }, lag);
        const info = record(decoded, results, committedAt, batch.messages.length);
        counters.batches += 1;
        opts.onBatchCommitted?.({
          topic,
          partition,
          stream: decoded.stream,
          firstOffset,
          lastOffset,
          committedOffset: next,
          messages: batch.messages.length,
          ...info,
          committedAt,
          lag,
          durationMs: Date.now() - started,
          recordTimestamps: decoded.recordTimestamps,
        });
      },
      (err) => {
        log.error('batch failed; rewinding its partition to it', { where, err });
        // The fetch position is already past this batch: rewind, so it is fetched again even if nothing follows.
        if (!stopping) {
          try {
            consumer?.seek({ topic, partition, offset: firstOffset });
          } catch (seekErr) {
            log.warn('rewind failed', { where, err: seekErr });
          }
        }
      },
    );
  }

  /** Offset commits survive short broker hiccups; a rebalance error propagates (kafkajs rejoins, re-delivery is a no-op). */
  async function commitWithRetry(commit: () => Promise<void>, where: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await commit();
        return;
      } catch (err) {
        if (isRebalanceError(err) || attempt >= 8 || stopping) throw err;
        log.warn('offset commit failed, retrying', { where, attempt, err });
        await sleep(backoffMs(attempt));
      }
    }
  }

  /** Metrics and counters of one committed batch. */
  function record(
    decoded: ReturnType<typeof decodeKafkaBatch>,
    results: BatchResult[],
    committedAt: Date,
    messages: number,
  ) {
    const stream = decoded.stream ?? 'unknown';
    const commitMs = committedAt.getTime();
    let inserted = 0;
    let updated = 0;
    let unchanged = 0;
    let stale = 0;
    let rejected = 0;
    let rowIndex = 0;
    for (const r of results) {
      for (const part of [r.ledger, r.orders]) {
        for (const outcome of part.outcomes) {
          const eventTime = decoded.eventTimes[rowIndex++];
          if (outcome === 'inserted' || outcome === 'updated') {
            if (outcome === 'inserted') inserted += 1;
            else updated += 1;
            if (eventTime !== undefined)
              consumerEventLag.observe({ stream }, Math.max(0, (commitMs - eventTime) / 1000));
          } else if (outcome === 'unchanged') unchanged += 1;
          else if (outcome === 'stale') stale += 1;
          else rejected += 1;
        }
        pairingOutcomesTotal.inc({ outcome: 'opened' }, part.pairing.opened);
        pairingOutcomesTotal.inc({ outcome: 'completed' }, part.pairing.completed);
        pairingOutcomesTotal.inc({ outcome: 'conflict' }, part.pairing.conflicts);
        pairingOutcomesTotal.inc({ outcome: 'unpairable' }, part.pairing.unpairable);
      }
    }
    const undecodable = decoded.input.dlq.length;
    const dlq = undecodable + rejected;
    const applied = inserted + updated;
    const labels = { source: 'consumer', stream };
    if (inserted) consumerMessagesTotal.inc({ ...labels, outcome: 'inserted' }, inserted);
    if (updated) consumerMessagesTotal.inc({ ...labels, outcome: 'updated' }, updated);
    if (unchanged) consumerMessagesTotal.inc({ ...labels, outcome: 'unchanged' }, unchanged);
    if (stale) consumerMessagesTotal.inc({ ...labels, outcome: 'stale' }, stale);
    if (dlq) consumerMessagesTotal.inc({ ...labels, outcome: 'dlq' }, dlq);
    const reasons = new Map<DlqReason, number>();
    for (const reason of decoded.dlqReasons) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    if (rejected) reasons.set('DB_REJECTED', (reasons.get('DB_REJECTED') ?? 0) + rejected);
    for (const [reason, n] of reasons) consumerDlqTotal.inc({ reason, source: 'consumer' }, n);
    if (decoded.versionMissing) consumerVersionMissingTotal.inc({ stream }, decoded.versionMissing);
    if (decoded.statusUnknown) consumerContractStatusUnknownTotal.inc(decoded.statusUnknown);
    for (const ts of decoded.recordTimestamps)
      consumerFreshness.observe({ stream }, Math.max(0, (commitMs - ts) / 1000));

    counters.consumed += messages;
    counters.applied += applied;
    counters.unchanged += unchanged;
    counters.stale += stale;
    counters.dlq += dlq;
    return { applied, unchanged, stale, dlq };
  }

  /**
   * Where each partition starts when the group has no committed offset for it (or every partition when
   * resetOffsets). Applied by seeking on group join (before the first fetch); the position becomes durable
   * with the partition's first batch commit. `earliest` without reset needs no seek (kafkajs fromBeginning),
   * but its targets still feed lag(). A restart before the first commit re-resolves the same start.
   */
  async function resolveStartTargets(a: Admin): Promise<void> {
    const committed = await withKafkaRetry('fetchOffsets', () => a.fetchOffsets({ groupId, topics }));
    for (const { topic, partitions } of committed) {
      const open = new Set(
        partitions.filter((p) => opts.resetOffsets || Number(p.offset) < 0).map((p) => p.partition),
      );
      if (open.size === 0) continue;
      let targets: { partition: number; offset: string }[];
      if (opts.start instanceof Date) {
        const when = opts.start.getTime();
        targets = await withKafkaRetry('fetchTopicOffsetsByTimestamp', () =>
          a.fetchTopicOffsetsByTimestamp(topic, when),
        );
      } else {
        const watermarks = await withKafkaRetry('fetchTopicOffsets', () => a.fetchTopicOffsets(topic));
        targets = watermarks.map((w) => ({
          partition: w.partition,
          offset: opts.start === 'earliest' ? w.low : w.high,
        }));
      }
      for (const t of targets) {
        if (open.has(t.partition))
          startTargets.set(`${topic}/${t.partition}`, { topic, partition: t.partition, offset: t.offset });
      }
    }
    if (startTargets.size) {
      log.info('start positions for partitions without commits', {
        groupId,
        start: opts.start instanceof Date ? opts.start.toISOString() : opts.start,
        targets: [...startTargets.values()],
      });
    }
  }

  async function start(): Promise<void> {
    if (started) throw new Error('consumer already started');
    started = true;
    consumerContractProfileInfo.set({ profile: profile.id }, 1);
    const a = await getAdmin();
    const existing = new Set(await withKafkaRetry('listTopics', () => a.listTopics()));
    const absent = topics.filter((t) => !existing.has(t));
    if (absent.length) throw new Error(`topics of profile ${profile.id} do not exist: ${absent.join(', ')}`);
    await resolveStartTargets(a);

    kafka ??= createKafka({ brokers: opts.brokers, clientId: opts.clientId });
    const c = kafka.consumer({
      groupId,
      maxWaitTimeInMs,
      minBytes: 1,
      maxBytesPerPartition: 2 * 1024 * 1024,
      maxBytes: 16 * 1024 * 1024,
      sessionTimeout: opts.sessionTimeoutMs ?? env().CONSUMER_SESSION_TIMEOUT_MS,
      heartbeatInterval: 1000,
      retry: { retries: 10, restartOnFailure: async () => !stopping },
    });
    consumer = c;
    c.on(c.events.CRASH, (event) => {
      const { error, restart } = event.payload;
      log.error('kafka consumer crashed', { groupId, restart, err: error });
      if (!restart && !stopping) {
        crashError = error;
        opts.onCrash?.(error);
      }
    });
    c.on(c.events.GROUP_JOIN, (event) => {
      if (!needsSeek()) return;
      // Synchronous on purpose: kafkajs applies seeks at the next fetch, which follows the join.
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
        for (const partition of partitions) {
          const target = startTargets.get(`${topic}/${partition}`);
          if (target) c.seek({ topic, partition, offset: target.offset });
        }
      }
    });
    await c.connect();
    await c.subscribe({ topics, fromBeginning: opts.start === 'earliest' });
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: concurrency,
      eachBatch,
    });
    log.info('consumer started', {
      groupId,
      profile: profile.id,
      topics,
      start: opts.start instanceof Date ? opts.start.toISOString() : opts.start,
      concurrency,
      maxWaitTimeInMs,
    });
  }

  async function stop(): Promise<void> {
    if (!stopping) {
      stopping = true;
      // Batches handed to their lanes finish (commit, or abandon if in a retry) while we are still a group
      // member; eachBatch starts no new ones. Then kafkajs leaves the group.
      await lanes.drain();
      await consumer?.disconnect().catch((err: unknown) => log.warn('consumer disconnect failed', { err }));
      if (started) log.info('consumer stopped', { groupId, ...counters });
    }
    // Also after a lag() call on a stopped consumer: the admin client is always released.
    const a = admin;
    admin = undefined;
    await a?.disconnect().catch((err: unknown) => log.warn('admin disconnect failed', { err }));
  }

  async function lag(): Promise<ConsumerLag> {
    const a = await getAdmin();
    const committed = await withKafkaRetry('fetchOffsets', () => a.fetchOffsets({ groupId, topics }));
    const partitions: PartitionLag[] = [];
    for (const topic of topics) {
      const watermarks = await withKafkaRetry('fetchTopicOffsets', () => a.fetchTopicOffsets(topic));
      const byPartition = new Map(
        (committed.find((c) => c.topic === topic)?.partitions ?? []).map((p) => [p.partition, p.offset]),
      );
      for (const w of watermarks) {
        const c = byPartition.get(w.partition);
        const target = startTargets.get(`${topic}/${w.partition}`);
        const hasCommit = c !== undefined && Number(c) >= 0;
        // Until this consumer commits a partition it sits at its start target (a reset ignores old commits).
        const position = target
          ? BigInt(target.offset)
          : hasCommit
            ? BigInt(c)
            : opts.start === 'earliest'
              ? BigInt(w.low)
              : BigInt(w.high);
        const behind = BigInt(w.high) - position;
        partitions.push({
          topic,
          partition: w.partition,
          committed: hasCommit ? c : null,
          low: w.low,
          high: w.high,
          lag: behind > 0n ? Number(behind) : 0,
        });
      }
    }
    return { total: partitions.reduce((s, p) => s + p.lag, 0), partitions };
  }

  async function waitUntilCaughtUp(o: {
    timeoutMs: number;
    signal?: AbortSignal;
    onProgress?(lag: ConsumerLag): void;
    pollMs?: number;
  }): Promise<boolean> {
    const deadline = Date.now() + o.timeoutMs;
    const first = await lag();
    const targets = new Map(first.partitions.map((p) => [`${p.topic}/${p.partition}`, BigInt(p.high)]));
    for (let current = first; ; current = await lag()) {
      o.signal?.throwIfAborted();
      if (crashError) throw crashError;
      o.onProgress?.(current);
      // position = high - lag (lag() already accounts for start targets and commits)
      const done = current.partitions.every(
        (p) => BigInt(p.high) - BigInt(p.lag) >= (targets.get(`${p.topic}/${p.partition}`) ?? 0n),
      );
      if (done) return true;
      if (Date.now() >= deadline) return false;
      await sleep(o.pollMs ?? 200);
    }
  }

  return {
    groupId,
    start,
    stop,
    lag,
    waitUntilCaughtUp,
    stats: () => ({ ...counters }),
  };
}

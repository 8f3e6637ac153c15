// Deterministic synthetic event generator (tests, benchmarks, demos) and its two sinks (Kafka, NDJSON dump),
// plus the oracle `expectedFinalState` that computes what the Backoffice DB must hold after the events are
// applied in arrival order (SPEC §2 LWW + pairing), independent of the SQL that implements it.
import fs from 'node:fs';
import { once } from 'node:events';
import zlib from 'node:zlib';
import type { Producer } from 'kafkajs';
import {
  decodeKafkaMessage,
  type EventProfile,
  type LedgerEntry,
  type PaymentOrder,
  type StreamKind,
} from '../contract';
import { sleep } from './kafka';

// ---------------------------------------------------------------------------------------------------------
// PRNG (mulberry32): small, fast, and the same sequence on every machine for a given seed.

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SynthOptions {
  payments: number;
  seed: number;
  /** Prefix of every id (orders, entries, wallets) so runs never collide. */
  idPrefix: string;
  startTime: Date;
  /** event_time of the payments is spread over [startTime, startTime + spanSec]. */
  spanSec: number;
  /** Probability that an event is published a second time (identical bytes), a little later. */
  dupRate: number;
  /** Probability that an event is delayed past later events (out-of-order arrival). */
  oooRate: number;
  /** Probability that an event carries neither updated_at nor source_version. */
  missingVersionRate: number;
  /** Probability that a settled payment has only one of its two ledger entries. */
  orphanRate: number;
  /** Probability (per payment) of an extra malformed message (bad JSON, schema violation, unknown type). */
  malformedRate: number;
  profile: EventProfile;
  /** Number of distinct wallets (default: max(10, payments / 5)). */
  wallets?: number;
}

export interface SynthEvent {
  stream: StreamKind;
  /** Kafka message key: the entity id (tx_id / order_id). */
  key: string;
  value: Buffer;
  eventTime: Date;
  /** True when the value is built to be rejected by the contract (it must end in the DLQ). */
  malformed: boolean;
  /** True for a re-publication of an earlier event. */
  duplicate: boolean;
}

export const SYNTH_DEFAULTS = {
  dupRate: 0.1,
  oooRate: 0.2,
  missingVersionRate: 0.05,
  orphanRate: 0.02,
  malformedRate: 0.01,
  spanSec: 3600,
} as const;

// A min-heap on (emitAt, seq): events are released in emit-time order, so delays reorder them while
// memory stays bounded by the events of the payments in flight.
class EmitQueue {
  private heap: { at: number; seq: number; ev: SynthEvent }[] = [];
  private seq = 0;
  get size(): number {
    return this.heap.length;
  }
  push(at: number, ev: SynthEvent): void {
    const h = this.heap;
    h.push({ at, seq: this.seq++, ev });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  peekAt(): number {
    return this.heap[0]?.at ?? Infinity;
  }
  pop(): SynthEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(l, m)) m = l;
        if (r < h.length && this.less(r, m)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top?.ev;
  }
  private less(i: number, j: number): boolean {
    const a = this.heap[i]!;
    const b = this.heap[j]!;
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
}

const FINAL_STATUSES = [
  'SETTLED',
  'SETTLED',
  'SETTLED',
  'COMPLETED',
  'PAID',
  'FAILED',
  'DECLINED',
  'CANCELLED',
  'CANCELED',
  'EXPIRED',
];
const SUCCESS = new Set(['SETTLED', 'COMPLETED', 'PAID']);

type VersionStyle = 'both' | 'version' | 'updated_at';

/** RFC 3339 with milliseconds and a fixed offset (minutes east of UTC), e.g. 2026-02-24T19:00:00.123+09:00. */
export function formatTimestamp(d: Date, offsetMin = 0): string {
  if (offsetMin === 0) return d.toISOString();
  const shifted = new Date(d.getTime() + offsetMin * 60_000).toISOString().slice(0, -1);
  const sign = offsetMin > 0 ? '+' : '-';
  const abs = Math.abs(offsetMin);
  return `${shifted}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/**
 * Serialises a canonical (snake_case) payload in the profile's shape: each field under its canonical
 * name or one of the profile's aliases, flat or inside one of its envelopes, amount as a JSON string or
 * an unquoted JSON number (exact text).
 */
export function encodeForProfile(
  profile: EventProfile,
  stream: StreamKind,
  fields: Record<string, string | number | null | undefined>,
  rand: () => number,
): Buffer {
  const aliases = profile.fieldAliases[stream];
  const payload: Record<string, string | number> = {};
  let amountKey = 'amount';
  for (const [name, value] of Object.entries(fields)) {
    if (value === null || value === undefined) continue;
    const names = [name, ...(aliases[name] ?? [])];
    // Profiles whose publisher is not snake_case (legacy camelCase) mostly use the alias.
    const key = names.length > 1 && rand() < 0.7 ? names[1 + Math.floor(rand() * (names.length - 1))]! : name;
    if (name === 'amount') amountKey = key;
    payload[key] = value;
  }
  let text: string;
  const envelopeIndex = Math.floor(rand() * (profile.envelopes.length + 1));
  const envelope = profile.envelopes[envelopeIndex];
  if (envelope) {
    const types = profile.eventTypes[stream];
    const eventType = types[Math.floor(rand() * types.length)]!;
    text = JSON.stringify({ [envelope.typeKey]: eventType, [envelope.payloadKey]: payload });
  } else {
    text = JSON.stringify(payload);
  }
  const amount = payload[amountKey];
  if (typeof amount === 'string' && rand() < 0.3) {
    // Unquoted JSON number with the exact decimal text (the contract must keep it digit for digit).
    text = text.replace(
      `${JSON.stringify(amountKey)}:${JSON.stringify(amount)}`,
      `${JSON.stringify(amountKey)}:${amount}`,
    );
  }
  return Buffer.from(text, 'utf8');
}

function malformedValue(kind: number, stream: StreamKind, key: string, eventTime: Date): Buffer {
  const idField = stream === 'ledger' ? 'tx_id' : 'order_id';
  switch (kind % 8) {
    case 0: // truncated JSON
      return Buffer.from(
        `{"${idField}":"${key}","amount":"10.00","event_time":"${eventTime.toISOString()}"`,
        'utf8',
      );
    case 1: // invalid UTF-8
      return Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]);
    case 2: // missing core field (amount)
      return Buffer.from(
        JSON.stringify(
          stream === 'ledger'
            ? { tx_id: key, wallet_id: 'w-x', entry_type: 'PAYMENT', event_time: eventTime.toISOString() }
            : { order_id: key, status: 'CREATED', event_time: eventTime.toISOString() },
        ),
        'utf8',
      );
    case 3: // not a decimal
      return Buffer.from(
        JSON.stringify(
          stream === 'ledger'
            ? {
                tx_id: key,
                wallet_id: 'w-x',
                entry_type: 'PAYMENT',
                amount: 'NaN',
                event_time: eventTime.toISOString(),
              }
            : { order_id: key, status: 'CREATED', amount: 'Infinity', event_time: eventTime.toISOString() },
        ),
        'utf8',
      );
    case 4: // timezone-less timestamp
      return Buffer.from(
        JSON.stringify(
          stream === 'ledger'
            ? {
                tx_id: key,
                wallet_id: 'w-x',
                entry_type: 'PAYMENT',
                amount: '1',
                event_time: '2026-02-24T10:00:00',
              }
            : { order_id: key, status: 'CREATED', amount: '1', event_time: '2026-02-24T10:00:00' },
        ),
        'utf8',
      );
    case 5: // id breaking the id rule
      return Buffer.from(
        JSON.stringify(
          stream === 'ledger'
            ? {
                tx_id: `${key} DROP TABLE`,
                wallet_id: 'w-x',
                entry_type: 'PAYMENT',
                amount: '1',
                event_time: eventTime.toISOString(),
              }
            : { order_id: `${key} ;--`, status: 'CREATED', amount: '1', event_time: eventTime.toISOString() },
        ),
        'utf8',
      );
    case 6: // envelope with an unknown event type
      return Buffer.from(
        JSON.stringify({ event_type: 'SomethingElseHappened', payload: { [idField]: key } }),
        'utf8',
      );
    default: // JSON that is not an object
      return Buffer.from(JSON.stringify([idField, key]), 'utf8');
  }
}

/**
 * Yields the events of `payments` synthetic payments in arrival order. Per payment: an order with
 * increasing versions (CREATED -> PENDING -> final status), and for settled payments a PAYMENT entry
 * (payer wallet) and a RECEIVE entry (payee wallet) with related_id = the order id. Deterministic by seed.
 */
export function* generatePayments(o: SynthOptions): Generator<SynthEvent> {
  const rand = mulberry32(o.seed);
  const p = o.idPrefix;
  const wallets = o.wallets ?? Math.max(10, Math.floor(o.payments / 5));
  const start = o.startTime.getTime();
  const spanMs = Math.max(1, o.spanSec * 1000);
  const queue = new EmitQueue();
  const offsets = [0, 0, 0, 540, -300, 60]; // mostly Z, some +09:00 / -05:00 / +01:00

  const push = (at: number, ev: SynthEvent): void => {
    const delayed = rand() < o.oooRate;
    // An out-of-order event is held back past a few later events of the same and other payments.
    const emitAt = delayed ? at + 1 + rand() * 20_000 : at;
    queue.push(emitAt, ev);
    if (rand() < o.dupRate) queue.push(emitAt + 1 + rand() * 30_000, { ...ev, duplicate: true });
  };

  const ts = (ms: number): string =>
    formatTimestamp(new Date(ms), offsets[Math.floor(rand() * offsets.length)] ?? 0);

  for (let i = 0; i < o.payments; i++) {
    const created = start + Math.floor((i / Math.max(1, o.payments)) * spanMs);
    // Release everything due before this payment starts.
    while (queue.size > 0 && queue.peekAt() < created) yield queue.pop()!;

    const orderId = `${p}ord-${i}`;
    const payer = `${p}w-${Math.floor(rand() * wallets)}`;
    let payee = `${p}w-${Math.floor(rand() * wallets)}`;
    if (payee === payer) payee = `${p}w-${(Number(payer.slice(p.length + 2)) + 1) % wallets}`;
    const amount = `${1 + Math.floor(rand() * 99_999)}.${String(Math.floor(rand() * 100)).padStart(2, '0')}`;
    const currency = rand() < 0.8 ? 'KRW' : 'USD';
    const style: VersionStyle = (['both', 'both', 'version', 'updated_at'] as const)[Math.floor(rand() * 4)]!;
    const finalStatus =
      rand() < 0.005 ? 'ON_HOLD_REVIEW' : FINAL_STATUSES[Math.floor(rand() * FINAL_STATUSES.length)]!;
    const statuses = ['CREATED', 'PENDING', finalStatus];

    let t = created;
    statuses.forEach((status, k) => {
      t += 50 + Math.floor(rand() * 2000);
      const missing = rand() < o.missingVersionRate;
      const fields = {
        order_id: orderId,
        status,
        amount,
        currency,
        payer_wallet_id: payer,
        payee_wallet_id: payee,
        event_time: ts(created),
        updated_at: missing || style === 'version' ? null : ts(t),
        source_version: missing || style === 'updated_at' ? null : k + 1,
      };
      push(t, {
        stream: 'order',
        key: orderId,
        value: encodeForProfile(o.profile, 'order', fields, rand),
        eventTime: new Date(created),
        malformed: false,
        duplicate: false,
      });
    });

    if (SUCCESS.has(finalStatus)) {
      const orphan = rand() < o.orphanRate ? (rand() < 0.5 ? 'PAYMENT' : 'RECEIVE') : null;
      const settledAt = t;
      for (const [type, wallet, suffix] of [
        ['PAYMENT', payer, 'p'],
        ['RECEIVE', payee, 'r'],
      ] as const) {
        if (orphan === type) continue;
        const txId = `${p}tx-${i}-${suffix}`;
        const at = settledAt + 10 + Math.floor(rand() * 500);
        const missing = rand() < o.missingVersionRate;
        const fields = {
          tx_id: txId,
          wallet_id: wallet,
          entry_type: type,
          amount,
          currency,
          related_id: orderId,
          event_time: ts(settledAt),
          updated_at: missing ? null : ts(at),
          source_version: missing ? null : 1,
        };
        push(at, {
          stream: 'ledger',
          key: txId,
          value: encodeForProfile(o.profile, 'ledger', fields, rand),
          eventTime: new Date(settledAt),
          malformed: false,
          duplicate: false,
        });
        // A few entries are re-published with a newer version (e.g. a late correction of updated_at).
        if (!missing && rand() < 0.05) {
          const later = at + 1000 + Math.floor(rand() * 5000);
          const v2 = { ...fields, updated_at: ts(later), source_version: 2 };
          push(later, {
            stream: 'ledger',
            key: txId,
            value: encodeForProfile(o.profile, 'ledger', v2, rand),
            eventTime: new Date(settledAt),
            malformed: false,
            duplicate: false,
          });
        }
      }
    }

    if (rand() < o.malformedRate) {
      const stream: StreamKind = rand() < 0.5 ? 'ledger' : 'order';
      const key = `${p}bad-${i}`;
      const at = created + Math.floor(rand() * 1000);
      queue.push(at, {
        stream,
        key,
        value: malformedValue(Math.floor(rand() * 8), stream, key, new Date(at)),
        eventTime: new Date(at),
        malformed: true,
        duplicate: false,
      });
    }
  }
  while (queue.size > 0) yield queue.pop()!;
}

// ---------------------------------------------------------------------------------------------------------
// Oracle: the final DB state after applying events in arrival order (per key), by the SPEC §2 rules.

export interface ExpectedPair {
  payment_tx_id: string | null;
  receive_tx_id: string | null;
  pairing_status: 'COMPLETE' | 'INCOMPLETE';
  conflict_tx_ids: string[];
}

export interface ExpectedState {
  ledger: Map<string, LedgerEntry>;
  orders: Map<string, PaymentOrder>;
  pairs: Map<string, ExpectedPair>;
  /** Events the contract rejects (they must be in the DLQ). */
  dlq: number;
  events: number;
  skippedAfterUntil: number;
}

type Versioned = { updated_at: Date | null; source_version: number | null };

/** SPEC §2: updated_at when both have it, else source_version when both have it, else the later arrival. Equal -> no-op. */
export function incomingWins(current: Versioned, incoming: Versioned): boolean {
  if (current.updated_at && incoming.updated_at)
    return incoming.updated_at.getTime() > current.updated_at.getTime();
  if (current.source_version !== null && incoming.source_version !== null)
    return incoming.source_version > current.source_version;
  return true;
}

/**
 * The state after applying `events` in order. With `until` (backfill), rows whose event_time is not
 * before it are skipped (undecodable events still count as DLQ: their time is unknown).
 */
export function expectedFinalState(
  events: Iterable<SynthEvent>,
  profile: EventProfile,
  opts: { until?: Date } = {},
): ExpectedState {
  const state: ExpectedState = {
    ledger: new Map(),
    orders: new Map(),
    pairs: new Map(),
    dlq: 0,
    events: 0,
    skippedAfterUntil: 0,
  };
  const until = opts.until?.getTime();
  for (const ev of events) {
    state.events += 1;
    const decoded = decodeKafkaMessage(profile, profile.topics[ev.stream], ev.value);
    if (!decoded.ok) {
      state.dlq += 1;
      continue;
    }
    const eventTime = decoded.stream === 'ledger' ? decoded.entry.event_time : decoded.order.event_time;
    if (until !== undefined && eventTime.getTime() >= until) {
      state.skippedAfterUntil += 1;
      continue;
    }
    if (decoded.stream === 'ledger') {
      const row = decoded.entry;
      const current = state.ledger.get(row.tx_id);
      if (!current || incomingWins(current, row)) state.ledger.set(row.tx_id, row);
      if (
        row.related_id !== null &&
        row.related_type === 'PAYMENT_ORDER' &&
        (row.entry_type === 'PAYMENT' || row.entry_type === 'RECEIVE')
      ) {
        const pair = state.pairs.get(row.related_id) ?? {
          payment_tx_id: null,
          receive_tx_id: null,
          pairing_status: 'INCOMPLETE' as const,
          conflict_tx_ids: [],
        };
        const slot = row.entry_type === 'PAYMENT' ? 'payment_tx_id' : 'receive_tx_id';
        if (pair[slot] === null) pair[slot] = row.tx_id;
        else if (pair[slot] !== row.tx_id && !pair.conflict_tx_ids.includes(row.tx_id))
          pair.conflict_tx_ids.push(row.tx_id);
        if (pair.payment_tx_id !== null && pair.receive_tx_id !== null) pair.pairing_status = 'COMPLETE';
        state.pairs.set(row.related_id, pair);
      }
    } else {
      const row = decoded.order;
      const current = state.orders.get(row.order_id);
      if (!current || incomingWins(current, row)) state.orders.set(row.order_id, row);
    }
  }
  return state;
}

// ---------------------------------------------------------------------------------------------------------
// Sinks

/** Token bucket: `take(n)` resolves when n tokens are available; refills at `ratePerSec`. */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  constructor(
    private readonly ratePerSec: number,
    private readonly burst = Math.max(1, ratePerSec / 20),
  ) {
    this.tokens = this.burst;
  }
  async take(n: number): Promise<void> {
    for (;;) {
      const now = performance.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
      this.last = now;
      if (this.tokens >= n || (n > this.burst && this.tokens >= this.burst)) {
        this.tokens -= n;
        return;
      }
      await sleep(Math.max(1, ((n - this.tokens) / this.ratePerSec) * 1000));
    }
  }
}

export interface ProduceOptions {
  producer: Producer;
  profile: EventProfile;
  /** Max events per second (token bucket); unlimited when absent. */
  rate?: number;
  /** Messages per sendBatch call (default 1000, smaller when rate-limited to keep the stream smooth). */
  batchSize?: number;
  onProgress?(sent: number): void;
}

/** Publishes events with key = entity id, in arrival order (sendBatch calls are sequential, so per-key order holds). */
export async function produceEvents(events: Iterable<SynthEvent>, o: ProduceOptions): Promise<number> {
  const bucket = o.rate ? new TokenBucket(o.rate) : null;
  const batchSize = o.batchSize ?? (o.rate ? Math.max(1, Math.min(1000, Math.floor(o.rate / 50))) : 1000);
  let pending: SynthEvent[] = [];
  let sent = 0;
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    if (bucket) await bucket.take(pending.length);
    const byTopic = new Map<string, { key: string; value: Buffer }[]>();
    for (const ev of pending) {
      const topic = o.profile.topics[ev.stream];
      const list = byTopic.get(topic) ?? [];
      list.push({ key: ev.key, value: ev.value });
      byTopic.set(topic, list);
    }
    await o.producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
    sent += pending.length;
    pending = [];
    o.onProgress?.(sent);
  };
  for (const ev of events) {
    pending.push(ev);
    if (pending.length >= batchSize) await flush();
  }
  await flush();
  return sent;
}

/** Writes events as NDJSON (gzip when the file name ends in .gz): one raw value per line. */
export async function writeDump(events: Iterable<SynthEvent>, file: string): Promise<number> {
  const out = fs.createWriteStream(file);
  const gzip = file.endsWith('.gz') ? zlib.createGzip() : null;
  const sink: NodeJS.WritableStream = gzip ?? out;
  if (gzip) gzip.pipe(out);
  let lines = 0;
  for (const ev of events) {
    if (ev.value.includes(0x0a))
      throw new Error(`event ${ev.key} contains a newline; cannot be an NDJSON line`);
    if (!sink.write(Buffer.concat([ev.value, Buffer.from('\n')]))) await once(sink, 'drain');
    lines += 1;
  }
  sink.end();
  await once(out, 'finish');
  return lines;
}

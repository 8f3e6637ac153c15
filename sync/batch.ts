// Turns one Kafka batch (one topic-partition, offset order) into the data layer's BatchInput:
// decodable messages become rows, the others DLQ rows with their raw bytes. Pure: no I/O.
import type { KafkaMessage } from 'kafkajs';
import {
  decodeKafkaMessage,
  streamForTopic,
  type DlqReason,
  type EventProfile,
  type StreamKind,
} from '../contract';
import type { BatchInput, DlqInsert, WriteSource } from '../db/apply';
import { headersToStrings } from './kafka';

export interface DecodedBatch {
  input: BatchInput;
  /** The stream the topic carries under the profile (null: unmapped topic, everything goes to the DLQ). */
  stream: StreamKind | null;
  /** Kafka record timestamps (ms) of the messages, for freshness. */
  recordTimestamps: number[];
  /** event_time (ms) of each decoded row, same order as input.entries / input.orders. */
  eventTimes: number[];
  versionMissing: number;
  statusUnknown: number;
  /** Reasons of the messages that could not be decoded (same order as input.dlq). */
  dlqReasons: DlqReason[];
}

export function decodeKafkaBatch(
  profile: EventProfile,
  topic: string,
  partition: number,
  messages: readonly KafkaMessage[],
  source: WriteSource = 'consumer',
): DecodedBatch {
  const out: DecodedBatch = {
    input: { entries: [], orders: [], dlq: [], source },
    stream: null,
    recordTimestamps: [],
    eventTimes: [],
    versionMissing: 0,
    statusUnknown: 0,
    dlqReasons: [],
  };
  out.stream = streamForTopic(profile, topic);
  for (const message of messages) {
    const meta: Omit<DlqInsert, 'reason' | 'error_detail'> = {
      source,
      profile_id: profile.id,
      topic,
      partition,
      offset: message.offset,
      message_key: message.key ?? null,
      headers: headersToStrings(message.headers),
      raw_value: message.value ?? null,
    };
    const ts = Number(message.timestamp);
    if (Number.isFinite(ts) && ts > 0) out.recordTimestamps.push(ts);
    const decoded = decodeKafkaMessage(profile, topic, message.value ?? null);
    if (!decoded.ok) {
      out.input.dlq.push({ ...meta, reason: decoded.reason, error_detail: decoded.detail });
      out.dlqReasons.push(decoded.reason);
      continue;
    }
    if (decoded.versionMissing) out.versionMissing += 1;
    if (decoded.stream === 'ledger') {
      out.input.entries.push({ row: decoded.entry, dlq: meta });
      out.eventTimes.push(decoded.entry.event_time.getTime());
    } else {
      if (decoded.statusUnknown) out.statusUnknown += 1;
      out.input.orders.push({ row: decoded.order, dlq: meta });
      out.eventTimes.push(decoded.order.event_time.getTime());
    }
  }
  return out;
}

/** Splits a batch input in two halves (entries, orders and DLQ rows each halved), to isolate a row that fails the whole batch. */
export function splitBatchInput(input: BatchInput): [BatchInput, BatchInput] {
  const half = <T>(xs: T[]): [T[], T[]] => {
    const mid = Math.ceil(xs.length / 2);
    return [xs.slice(0, mid), xs.slice(mid)];
  };
  const [e1, e2] = half(input.entries);
  const [o1, o2] = half(input.orders);
  const [d1, d2] = half(input.dlq);
  return [
    { entries: e1, orders: o1, dlq: d1, source: input.source },
    { entries: e2, orders: o2, dlq: d2, source: input.source },
  ];
}

export function batchSize(input: BatchInput): number {
  return input.entries.length + input.orders.length + input.dlq.length;
}

// Normalised row types shared by the consumer, the backfill, the DLQ replay and the API.
// Fixed by the schema brief; the DB columns of bo.ledger_entries / bo.payment_orders mirror them.

export type StreamKind = 'ledger' | 'order';

export type DlqReason =
  | 'INVALID_JSON'
  | 'SCHEMA_VIOLATION'
  | 'UNMAPPED_TOPIC'
  | 'UNKNOWN_EVENT_TYPE'
  | 'DB_REJECTED';

export type StatusGroup = 'IN_PROGRESS' | 'SUCCESS' | 'FAILED' | 'CANCELLED' | 'REFUNDED' | 'UNKNOWN';

export interface LedgerEntry {
  tx_id: string;
  wallet_id: string;
  entry_type: string;
  /** Canonical decimal string, exactly as sent (see canonicalDecimal). */
  amount: string;
  currency: string | null;
  related_id: string | null;
  related_type: string;
  event_time: Date;
  updated_at: Date | null;
  source_version: number | null;
}

export interface PaymentOrder {
  order_id: string;
  status: string;
  status_group: StatusGroup;
  amount: string;
  currency: string | null;
  payer_wallet_id: string | null;
  payee_wallet_id: string | null;
  event_time: Date;
  updated_at: Date | null;
  source_version: number | null;
}

/** The result of decoding one raw message: a normalised row, or the DLQ reason it must go to. */
export type Decoded =
  | { ok: true; stream: 'ledger'; entry: LedgerEntry; versionMissing: boolean }
  | { ok: true; stream: 'order'; order: PaymentOrder; versionMissing: boolean; statusUnknown: boolean }
  | { ok: false; reason: DlqReason; detail: string };

/** One accepted envelope shape: `{ [typeKey]: <event type>, [payloadKey]: { ...fields } }`. */
export interface EnvelopeShape {
  typeKey: string;
  payloadKey: string;
}

/**
 * An event profile: how one upstream publishes the two logical streams. Pure data — adding a
 * profile means adding an entry to PROFILES, never a code branch.
 */
export interface EventProfile {
  id: string;
  version: number;
  description: string;
  /** Kafka topic of each logical stream. */
  topics: Record<StreamKind, string>;
  /** Envelope event-type values accepted for each stream (exact, case-sensitive). */
  eventTypes: Record<StreamKind, readonly string[]>;
  /** Envelope shapes recognised besides the flat payload, tried in order. */
  envelopes: readonly EnvelopeShape[];
  /**
   * Field aliases per stream: canonical field name -> alternative source names. The canonical
   * (snake_case) name is always accepted too. Two names of one field carrying different values
   * is a SCHEMA_VIOLATION.
   */
  fieldAliases: Record<StreamKind, Readonly<Record<string, readonly string[]>>>;
}

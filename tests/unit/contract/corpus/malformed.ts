// Malformed-message corpus: every entry must decode to exactly `reason`.
// `via: 'kafka'` decodes with decodeKafkaMessage(profile, topic, value), `via: 'dump'` with decodeDumpLine.
// `detail` (optional) is a substring the DLQ detail must contain, to pin the field it blames.
import type { DlqReason } from '../../../../contract/index';

export interface MalformedCase {
  name: string;
  reason: DlqReason;
  value: Buffer | string | null;
  via?: 'kafka' | 'dump';
  profile?: 'canonical-v1' | 'oltp-legacy-v0';
  topic?: string;
  detail?: string;
}

export const LEDGER_TOPIC = 'ledger.entry.upserted';
export const ORDER_TOPIC = 'payment.order.upserted';

const baseLedger: Record<string, unknown> = {
  tx_id: 'tx-1',
  wallet_id: 'w-1',
  entry_type: 'PAYMENT',
  amount: '100.00',
  currency: 'KRW',
  related_id: 'ord-1',
  event_time: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:01Z',
  source_version: 1,
};
const baseOrder: Record<string, unknown> = {
  order_id: 'ord-1',
  status: 'PAID',
  amount: '100.00',
  currency: 'KRW',
  payer_wallet_id: 'w-1',
  payee_wallet_id: 'w-2',
  event_time: '2026-01-01T00:00:00Z',
};

/** JSON of the valid base ledger entry with fields overridden; an `undefined` override removes the field. */
export function ledger(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...baseLedger, ...overrides });
}
export function order(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...baseOrder, ...overrides });
}
/** Ledger JSON with the amount written as a raw JSON token (e.g. NaN, 1e400, 0x10). */
function ledgerWithRawAmount(rawAmount: string): string {
  return ledger({ amount: '@@' }).replace('"@@"', rawAmount);
}

const bytes = (...octets: number[]) => Buffer.from(octets);
const ledgerValid = ledger();

export const MALFORMED: MalformedCase[] = [
  // --- INVALID_JSON: not a JSON object at all -------------------------------------------------
  { name: 'null value (tombstone)', reason: 'INVALID_JSON', value: null, detail: 'null' },
  { name: 'empty buffer', reason: 'INVALID_JSON', value: Buffer.alloc(0), detail: 'empty' },
  { name: 'whitespace only', reason: 'INVALID_JSON', value: '   \n\t ' },
  { name: 'truncated JSON (mid object)', reason: 'INVALID_JSON', value: ledgerValid.slice(0, 30) },
  { name: 'truncated JSON (mid string)', reason: 'INVALID_JSON', value: '{"tx_id":"tx-1' },
  { name: 'trailing comma', reason: 'INVALID_JSON', value: '{"tx_id":"tx-1",}' },
  { name: 'single-quoted keys', reason: 'INVALID_JSON', value: "{'tx_id':'tx-1'}" },
  { name: 'JSON comment', reason: 'INVALID_JSON', value: `// upserted\n${ledgerValid}` },
  { name: 'two concatenated objects', reason: 'INVALID_JSON', value: ledgerValid + ledgerValid },
  { name: 'JSON array', reason: 'INVALID_JSON', value: `[${ledgerValid}]`, detail: 'array' },
  { name: 'JSON string', reason: 'INVALID_JSON', value: JSON.stringify(ledgerValid), detail: 'string' },
  { name: 'JSON number', reason: 'INVALID_JSON', value: '42', detail: 'number' },
  { name: 'JSON null literal', reason: 'INVALID_JSON', value: 'null' },
  { name: 'JSON boolean', reason: 'INVALID_JSON', value: 'true' },
  {
    name: 'invalid UTF-8 bytes',
    reason: 'INVALID_JSON',
    value: bytes(0x7b, 0xff, 0xfe, 0x7d),
    detail: 'UTF-8',
  },
  {
    name: 'overlong UTF-8 sequence inside a string',
    reason: 'INVALID_JSON',
    value: Buffer.concat([Buffer.from('{"tx_id":"'), bytes(0xc0, 0xaf), Buffer.from('"}')]),
    detail: 'UTF-8',
  },
  {
    name: 'lone UTF-8 continuation byte',
    reason: 'INVALID_JSON',
    value: Buffer.concat([Buffer.from(ledgerValid.slice(0, -1)), bytes(0x80, 0x7d)]),
  },
  { name: 'UTF-16LE encoded JSON', reason: 'INVALID_JSON', value: Buffer.from(ledgerValid, 'utf16le') },
  { name: 'binary garbage', reason: 'INVALID_JSON', value: bytes(0x00, 0x01, 0x02, 0x03, 0x7f) },
  { name: 'NaN literal amount', reason: 'INVALID_JSON', value: ledgerWithRawAmount('NaN') },
  { name: 'Infinity literal amount', reason: 'INVALID_JSON', value: ledgerWithRawAmount('Infinity') },
  { name: 'hex literal amount', reason: 'INVALID_JSON', value: ledgerWithRawAmount('0x10') },
  { name: 'leading-zero number amount', reason: 'INVALID_JSON', value: ledgerWithRawAmount('0123') },
  { name: 'amount number with dangling point', reason: 'INVALID_JSON', value: ledgerWithRawAmount('12.') },
  { name: 'amount number with dangling exponent', reason: 'INVALID_JSON', value: ledgerWithRawAmount('1e') },
  { name: 'raw control character in a string', reason: 'INVALID_JSON', value: '{"tx_id":"tx\u0001-1"}' },
  {
    name: 'deeply nested arrays',
    reason: 'INVALID_JSON',
    value: '['.repeat(100_000) + ']'.repeat(100_000),
  },
  { name: 'deeply nested unbalanced garbage', reason: 'INVALID_JSON', value: '{"a":'.repeat(50_000) },

  // --- SCHEMA_VIOLATION: size bound ---------------------------------------------------------
  {
    name: 'value over 1 MiB',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ padding: 'x'.repeat(1024 * 1024) }),
    detail: 'too large',
  },
  {
    name: '1 MiB + 1 of garbage is not parsed',
    reason: 'SCHEMA_VIOLATION',
    value: Buffer.alloc(1024 * 1024 + 1, 0x5b),
    detail: 'too large',
  },

  // --- SCHEMA_VIOLATION: missing / wrongly typed core fields --------------------------------
  {
    name: 'missing tx_id',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ tx_id: undefined }),
    detail: 'tx_id: required field missing',
  },
  {
    name: 'missing wallet_id',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ wallet_id: undefined }),
    detail: 'wallet_id',
  },
  {
    name: 'missing entry_type',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ entry_type: undefined }),
    detail: 'entry_type',
  },
  {
    name: 'missing amount',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ amount: undefined }),
    detail: 'amount: required field missing',
  },
  {
    name: 'missing event_time',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ event_time: undefined }),
    detail: 'event_time',
  },
  { name: 'empty object', reason: 'SCHEMA_VIOLATION', value: '{}' },
  {
    name: 'tx_id is a number',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ tx_id: 12345 }),
    detail: 'tx_id: expected string, got number',
  },
  {
    name: 'tx_id is null',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ tx_id: null }),
    detail: 'tx_id: required field is null',
  },
  {
    name: 'wallet_id is an object',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ wallet_id: { id: 'w' } }),
    detail: 'wallet_id',
  },
  {
    name: 'entry_type is a number',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ entry_type: 1 }),
    detail: 'entry_type',
  },
  {
    name: 'entry_type empty',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ entry_type: '' }),
    detail: 'entry_type',
  },
  {
    name: 'entry_type over 64 chars',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ entry_type: 'P'.repeat(65) }),
    detail: 'longer than 64',
  },

  // --- SCHEMA_VIOLATION: ids ---------------------------------------------------------------
  {
    name: 'tx_id with a space',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ tx_id: 'tx 1' }),
    detail: 'tx_id: invalid id',
  },
  {
    name: 'tx_id with unicode',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ tx_id: 'tx-é' }),
    detail: 'tx_id',
  },
  {
    name: 'tx_id with emoji',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ tx_id: 'tx-💸' }),
    detail: 'tx_id',
  },
  {
    name: 'tx_id of 129 chars',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ tx_id: 'a'.repeat(129) }),
    detail: 'longer than 128',
  },
  { name: 'tx_id empty', reason: 'SCHEMA_VIOLATION', value: ledger({ tx_id: '' }), detail: 'tx_id' },
  {
    name: 'tx_id with SQL metacharacters',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ tx_id: "tx-1'; DROP TABLE bo.ledger_entries;--" }),
    detail: 'tx_id',
  },
  {
    name: 'tx_id with a newline',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ tx_id: 'tx-1\n' }),
    detail: 'tx_id',
  },
  {
    name: 'tx_id of 500k chars (not echoed)',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ tx_id: 'x'.repeat(500_000) }),
    detail: 'tx_id',
  },
  {
    name: 'wallet_id empty',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ wallet_id: '' }),
    detail: 'wallet_id',
  },
  {
    name: 'wallet_id of 129 characters (counted as code points)',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ wallet_id: '😀'.repeat(129) }),
    detail: 'wallet_id',
  },
  {
    name: 'wallet_id with a NUL',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ wallet_id: 'w\u00001' }),
    detail: 'wallet_id',
  },
  {
    name: 'related_id of 513 characters',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ related_id: 'r'.repeat(513) }),
    detail: 'related_id',
  },
  {
    name: 'related_id empty',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ related_id: '' }),
    detail: 'related_id',
  },

  // --- SCHEMA_VIOLATION: amounts -------------------------------------------------------------
  {
    name: 'amount "NaN"',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ amount: 'NaN' }),
    detail: 'amount: not an exact finite decimal',
  },
  {
    name: 'amount "Infinity"',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ amount: 'Infinity' }),
    detail: 'amount',
  },
  {
    name: 'amount "-Infinity"',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ amount: '-Infinity' }),
    detail: 'amount',
  },
  {
    name: 'amount number 1e400',
    reason: 'SCHEMA_VIOLATION',
    value: ledgerWithRawAmount('1e400'),
    detail: 'amount',
  },
  {
    name: 'amount string "1e400"',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ amount: '1e400' }),
    detail: 'amount',
  },
  {
    name: 'amount number 1e-400',
    reason: 'SCHEMA_VIOLATION',
    value: ledgerWithRawAmount('1e-400'),
    detail: 'amount',
  },
  {
    name: 'amount string "0x10"',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ amount: '0x10' }),
    detail: 'amount',
  },
  {
    name: 'amount empty string',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ amount: '' }),
    detail: 'amount',
  },
  {
    name: 'amount boolean',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ amount: true }),
    detail: 'amount: expected decimal string or number, got boolean',
  },
  {
    name: 'amount null',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ amount: null }),
    detail: 'amount: required field is null',
  },
  {
    name: 'amount with surrounding spaces',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ amount: ' 10' }),
    detail: 'amount',
  },
  {
    name: 'amount with thousands separator',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ amount: '1,000.00' }),
    detail: 'amount',
  },
  { name: 'amount ".5"', reason: 'SCHEMA_VIOLATION', value: ledger({ amount: '.5' }), detail: 'amount' },
  { name: 'amount "--5"', reason: 'SCHEMA_VIOLATION', value: ledger({ amount: '--5' }), detail: 'amount' },
  {
    name: 'amount object',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ amount: { value: '1' } }),
    detail: 'amount',
  },
  { name: 'amount array', reason: 'SCHEMA_VIOLATION', value: ledger({ amount: [1] }), detail: 'amount' },
  {
    name: 'amount with 39 integer digits',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ amount: '9'.repeat(39) }),
    detail: 'amount',
  },
  {
    name: 'amount deeply nested garbage',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ amount: '@@' }).replace('"@@"', '['.repeat(10_000) + ']'.repeat(10_000)),
    detail: 'amount',
  },

  // --- SCHEMA_VIOLATION: timestamps ------------------------------------------------------------
  {
    name: 'event_time without timezone',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ event_time: '2026-01-01T00:00:00' }),
    detail: 'event_time: not an RFC 3339',
  },
  {
    name: 'event_time 2026-02-30',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ event_time: '2026-02-30T00:00:00Z' }),
    detail: 'event_time',
  },
  {
    name: 'event_time 2025-02-29 (not a leap year)',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ event_time: '2025-02-29T00:00:00Z' }),
    detail: 'event_time',
  },
  {
    name: 'event_time month 13',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ event_time: '2026-13-01T00:00:00Z' }),
    detail: 'event_time',
  },
  {
    name: 'event_time hour 24',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ event_time: '2026-01-01T24:00:00Z' }),
    detail: 'event_time',
  },
  {
    name: 'event_time offset without colon',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ event_time: '2026-01-01T00:00:00+0900' }),
    detail: 'event_time',
  },
  {
    name: 'event_time offset hour 24',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ event_time: '2026-01-01T00:00:00+24:00' }),
    detail: 'event_time',
  },
  {
    name: 'event_time date only',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ event_time: '2026-01-01' }),
    detail: 'event_time',
  },
  {
    name: 'event_time epoch millis number',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ event_time: 1767225600000 }),
    detail: 'expected RFC 3339 timestamp string, got number',
  },
  {
    name: 'event_time free text',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ event_time: 'yesterday' }),
    detail: 'event_time',
  },
  {
    name: 'event_time year 0000',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ event_time: '0000-01-01T00:00:00Z' }),
    detail: 'event_time',
  },
  {
    name: 'updated_at bad timezone name',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ updated_at: '2026-01-01T00:00:00 KST' }),
    detail: 'updated_at',
  },

  // --- SCHEMA_VIOLATION: source_version, currency ------------------------------------------------
  {
    name: 'negative source_version',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ source_version: -1 }),
    detail: 'source_version',
  },
  {
    name: 'fractional source_version',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ source_version: 1.5 }),
    detail: 'source_version',
  },
  {
    name: 'source_version beyond MAX_SAFE_INTEGER',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ source_version: 2 ** 53 }),
    detail: 'source_version',
  },
  {
    name: 'source_version digit string too big',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ source_version: '99999999999999999' }),
    detail: 'source_version',
  },
  {
    name: 'negative source_version string',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ source_version: '-3' }),
    detail: 'source_version',
  },
  {
    name: 'source_version non-numeric string',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ source_version: 'v2' }),
    detail: 'source_version',
  },
  {
    name: 'version alias negative',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ source_version: undefined, version: -7 }),
    detail: 'source_version',
  },
  {
    name: 'currency lower case',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ currency: 'krw' }),
    detail: 'currency',
  },
  {
    name: 'currency 4 letters',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ currency: 'KRWX' }),
    detail: 'currency',
  },
  {
    name: 'currency numeric code',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ currency: 410 }),
    detail: 'currency',
  },
  {
    name: 'related_type over 64 chars',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ related_type: 'R'.repeat(65) }),
    detail: 'related_type',
  },
  {
    name: 'conflicting version and source_version',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ source_version: 1, version: 2 }),
    detail: 'conflicting',
  },

  // --- SCHEMA_VIOLATION: orders ----------------------------------------------------------------
  {
    name: 'order missing status',
    reason: 'SCHEMA_VIOLATION',
    value: order({ status: undefined }),
    topic: ORDER_TOPIC,
    detail: 'status: required field missing',
  },
  {
    name: 'order status over 64 chars',
    reason: 'SCHEMA_VIOLATION',
    value: order({ status: 'S'.repeat(65) }),
    topic: ORDER_TOPIC,
    detail: 'status',
  },
  {
    name: 'order status is a number',
    reason: 'SCHEMA_VIOLATION',
    value: order({ status: 3 }),
    topic: ORDER_TOPIC,
    detail: 'status',
  },
  {
    name: 'order_id with unicode',
    reason: 'SCHEMA_VIOLATION',
    value: order({ order_id: 'ord-①' }),
    topic: ORDER_TOPIC,
    detail: 'order_id',
  },
  {
    name: 'payer_wallet_id with a space',
    reason: 'SCHEMA_VIOLATION',
    value: order({ payer_wallet_id: 'w 1' }),
    topic: ORDER_TOPIC,
    detail: 'payer_wallet_id',
  },
  {
    name: 'order amount NaN string',
    reason: 'SCHEMA_VIOLATION',
    value: order({ amount: 'NaN' }),
    topic: ORDER_TOPIC,
    detail: 'amount',
  },
  {
    name: 'ledger payload on the order topic',
    reason: 'SCHEMA_VIOLATION',
    value: ledgerValid,
    topic: ORDER_TOPIC,
    detail: 'order_id: required field missing',
  },

  // --- SCHEMA_VIOLATION: envelopes ---------------------------------------------------------------
  {
    name: 'envelope payload is a string',
    reason: 'SCHEMA_VIOLATION',
    value: JSON.stringify({ event_type: 'LedgerEntryUpserted', payload: ledgerValid }),
    detail: 'envelope.payload: expected object, got string',
  },
  {
    name: 'envelope payload is null',
    reason: 'SCHEMA_VIOLATION',
    value: JSON.stringify({ event_type: 'LedgerEntryUpserted', payload: null }),
    detail: 'envelope.payload',
  },
  {
    name: 'envelope payload is an array',
    reason: 'SCHEMA_VIOLATION',
    value: JSON.stringify({ event_type: 'LedgerEntryUpserted', payload: [JSON.parse(ledgerValid)] }),
    detail: 'envelope.payload',
  },
  {
    name: 'envelope payload missing',
    reason: 'SCHEMA_VIOLATION',
    value: JSON.stringify({ event_type: 'LedgerEntryUpserted' }),
    detail: 'envelope.payload: required field missing',
  },
  {
    name: 'envelope event_type missing',
    reason: 'SCHEMA_VIOLATION',
    value: JSON.stringify({ payload: JSON.parse(ledgerValid) }),
    detail: 'envelope.event_type: required field missing',
  },
  {
    name: 'envelope event_type is a number',
    reason: 'SCHEMA_VIOLATION',
    value: JSON.stringify({ event_type: 7, payload: JSON.parse(ledgerValid) }),
    detail: 'envelope.event_type',
  },
  {
    name: 'envelope event_type is null',
    reason: 'SCHEMA_VIOLATION',
    value: JSON.stringify({ event_type: null, payload: JSON.parse(ledgerValid) }),
    detail: 'envelope.event_type',
  },
  {
    name: 'envelope inside an envelope',
    reason: 'SCHEMA_VIOLATION',
    value: JSON.stringify({
      event_type: 'LedgerEntryUpserted',
      payload: { event_type: 'LedgerEntryUpserted', payload: JSON.parse(ledgerValid) },
    }),
    detail: 'tx_id: required field missing',
  },
  {
    name: 'envelope payload with a bad field',
    reason: 'SCHEMA_VIOLATION',
    value: JSON.stringify({
      event_type: 'LedgerEntryUpserted',
      payload: { ...JSON.parse(ledgerValid), amount: 'abc' },
    }),
    detail: 'amount',
  },
  {
    name: 'legacy { type, data } with data a string',
    reason: 'SCHEMA_VIOLATION',
    value: JSON.stringify({ type: 'LEDGER_ENTRY_UPSERTED', data: 'oops' }),
    profile: 'oltp-legacy-v0',
    topic: 'oltp.ledger_entries',
    detail: 'envelope.data',
  },
  {
    name: 'legacy { type, data } shape is not an envelope under canonical-v1',
    reason: 'SCHEMA_VIOLATION',
    value: JSON.stringify({ type: 'LedgerEntryUpserted', data: JSON.parse(ledgerValid) }),
    detail: 'tx_id: required field missing',
  },
  {
    name: 'legacy conflicting txId and tx_id',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ txId: 'tx-2' }),
    profile: 'oltp-legacy-v0',
    topic: 'oltp.ledger_entries',
    detail: 'tx_id: conflicting values',
  },

  // --- SCHEMA_VIOLATION: prototype-pollution keys are plain data, never promoted ---------------
  {
    name: '__proto__ carrying the core fields',
    reason: 'SCHEMA_VIOLATION',
    value: `{"__proto__": ${ledgerValid}}`,
    detail: 'tx_id: required field missing',
  },
  {
    name: 'envelope payload under __proto__',
    reason: 'SCHEMA_VIOLATION',
    value: `{"event_type":"LedgerEntryUpserted","__proto__":{"payload":${ledgerValid}}}`,
    detail: 'envelope.payload: required field missing',
  },
  {
    name: 'constructor.prototype keys with a bad id',
    reason: 'SCHEMA_VIOLATION',
    value: ledger({ constructor: { prototype: { polluted: true } }, tx_id: 'bad id' }),
    detail: 'tx_id',
  },

  // --- dump lines ----------------------------------------------------------------------------------
  {
    name: 'dump line with neither tx_id nor order_id',
    reason: 'SCHEMA_VIOLATION',
    via: 'dump',
    value: '{"amount":"1"}',
    detail: 'cannot tell the stream',
  },
  {
    name: 'dump line camelCase under canonical-v1',
    reason: 'SCHEMA_VIOLATION',
    via: 'dump',
    value: '{"txId":"tx-1","walletId":"w"}',
    detail: 'cannot tell the stream',
  },
  { name: 'dump line truncated', reason: 'INVALID_JSON', via: 'dump', value: ledgerValid.slice(0, -2) },
  { name: 'dump line empty', reason: 'INVALID_JSON', via: 'dump', value: '' },
  {
    name: 'dump line with bad amount',
    reason: 'SCHEMA_VIOLATION',
    via: 'dump',
    value: ledger({ amount: 'NaN' }),
    detail: 'amount',
  },
  {
    name: 'dump line unknown event type',
    reason: 'UNKNOWN_EVENT_TYPE',
    via: 'dump',
    value: JSON.stringify({ event_type: 'WalletCreated', payload: {} }),
  },

  // --- UNMAPPED_TOPIC ------------------------------------------------------------------------------
  {
    name: 'unknown topic',
    reason: 'UNMAPPED_TOPIC',
    topic: 'ledger.entry.deleted',
    value: ledgerValid,
    detail: 'ledger.entry.deleted',
  },
  {
    name: 'legacy topic under canonical-v1',
    reason: 'UNMAPPED_TOPIC',
    topic: 'oltp.ledger_entries',
    value: ledgerValid,
  },
  {
    name: 'canonical topic under oltp-legacy-v0',
    reason: 'UNMAPPED_TOPIC',
    profile: 'oltp-legacy-v0',
    topic: LEDGER_TOPIC,
    value: ledgerValid,
  },
  { name: 'empty topic name', reason: 'UNMAPPED_TOPIC', topic: '', value: ledgerValid },
  {
    name: 'topic differing in case',
    reason: 'UNMAPPED_TOPIC',
    topic: 'Ledger.Entry.Upserted',
    value: ledgerValid,
  },
  { name: 'unknown topic wins over a null value', reason: 'UNMAPPED_TOPIC', topic: 'other', value: null },

  // --- UNKNOWN_EVENT_TYPE --------------------------------------------------------------------------
  {
    name: 'unknown envelope event type',
    reason: 'UNKNOWN_EVENT_TYPE',
    value: JSON.stringify({ event_type: 'LedgerEntryDeleted', payload: JSON.parse(ledgerValid) }),
    detail: 'LedgerEntryDeleted',
  },
  {
    name: 'event type differing by more than case and separators',
    reason: 'UNKNOWN_EVENT_TYPE',
    value: JSON.stringify({ event_type: 'LEDGER_ENTRY_UPSERT', payload: JSON.parse(ledgerValid) }),
  },
  {
    name: 'event type with spaces (not a separator that is ignored)',
    reason: 'UNKNOWN_EVENT_TYPE',
    value: JSON.stringify({ event_type: 'ledger entry upserted', payload: JSON.parse(ledgerValid) }),
  },
  {
    name: 'a deletion in SCREAMING_SNAKE_CASE is still another type',
    reason: 'UNKNOWN_EVENT_TYPE',
    value: JSON.stringify({ event_type: 'LEDGER_ENTRY_DELETED', payload: JSON.parse(ledgerValid) }),
    detail: 'LEDGER_ENTRY_DELETED',
  },
  {
    name: 'order event type on the ledger topic',
    reason: 'UNKNOWN_EVENT_TYPE',
    value: JSON.stringify({ event_type: 'PaymentOrderUpserted', payload: JSON.parse(order()) }),
    detail: 'for the order stream',
  },
  {
    name: 'ledger event type on the order topic',
    reason: 'UNKNOWN_EVENT_TYPE',
    topic: ORDER_TOPIC,
    value: JSON.stringify({ event_type: 'ledger.entry.upserted', payload: JSON.parse(ledgerValid) }),
  },
  {
    name: 'unknown event type with a broken payload',
    reason: 'UNKNOWN_EVENT_TYPE',
    value: JSON.stringify({ event_type: 'Nope', payload: 'x' }),
  },
  {
    name: 'legacy-only event type under canonical-v1',
    reason: 'UNKNOWN_EVENT_TYPE',
    value: JSON.stringify({ event_type: 'oltp.ledger_entries', payload: JSON.parse(ledgerValid) }),
  },
  {
    name: 'SCREAMING_SNAKE_CASE order event type on the ledger topic',
    reason: 'UNKNOWN_EVENT_TYPE',
    value: JSON.stringify({ event_type: 'PAYMENT_ORDER_UPSERTED', payload: JSON.parse(order()) }),
    detail: 'for the order stream',
  },
  {
    name: 'legacy { type } envelope with unknown type',
    reason: 'UNKNOWN_EVENT_TYPE',
    profile: 'oltp-legacy-v0',
    topic: 'oltp.payment_orders',
    value: JSON.stringify({ type: 'ORDER_DELETED', data: JSON.parse(order()) }),
  },
  {
    name: 'huge event type is not echoed',
    reason: 'UNKNOWN_EVENT_TYPE',
    value: JSON.stringify({ event_type: 'E'.repeat(100_000), payload: JSON.parse(ledgerValid) }),
  },
];

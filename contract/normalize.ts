// Decoding raw values into normalised rows (SPEC §1). Order of checks for one value:
//   topic -> UNMAPPED_TOPIC; null/empty/non-UTF-8/unparsable/non-object -> INVALID_JSON;
//   over MAX_VALUE_BYTES -> SCHEMA_VIOLATION (not parsed); envelope event type unknown or naming the
//   other stream -> UNKNOWN_EVENT_TYPE; envelope/field shape problems -> SCHEMA_VIOLATION.
// Nothing here throws for any input: every path returns a Decoded.
import { z } from 'zod';
import { NUMBER_LITERAL_PREFIX, protectAmountNumbers } from './json';
import { streamForEventType, streamForTopic } from './profiles';
import { statusGroupOf } from './status';
import type { Decoded, DlqReason, EventProfile, LedgerEntry, PaymentOrder, StreamKind } from './types';
import {
  ID_PATTERN,
  MAX_AMOUNT_FRACTION_DIGITS,
  MAX_AMOUNT_INTEGER_DIGITS,
  MAX_ID_LENGTH,
  MAX_RELATED_ID_LENGTH,
  MAX_WALLET_ID_LENGTH,
  textKeyProblem,
  canonicalDecimal,
  parseSourceVersion,
  parseTimestamp,
} from './values';

/** Values above this size are dead-lettered as SCHEMA_VIOLATION without being parsed. */
export const MAX_VALUE_BYTES = 1024 * 1024;
/** Upper bound of a DLQ `detail`. */
export const MAX_DETAIL_CHARS = 300;
/** entry_type / status / related_type length limit. */
const MAX_LABEL_LENGTH = 64;

type Failure = Extract<Decoded, { ok: false }>;
type JsonObject = Record<string, unknown>;

// Details are stored in a PostgreSQL text column: no NUL / control characters, no lone surrogates.
const UNSAFE_DETAIL_CHARS =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u001f\u007f]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function fail(reason: DlqReason, detail: string): Failure {
  const clean = detail.replace(UNSAFE_DETAIL_CHARS, '?');
  return {
    ok: false,
    reason,
    detail: clean.length > MAX_DETAIL_CHARS ? `${clean.slice(0, MAX_DETAIL_CHARS - 1)}…` : clean,
  };
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A short rendering of a bad value for a detail message; never echoes more than ~40 chars. */
function preview(value: unknown): string {
  if (typeof value === 'string') {
    if (value.startsWith(NUMBER_LITERAL_PREFIX)) return clip(value.slice(NUMBER_LITERAL_PREFIX.length));
    return JSON.stringify(clip(value));
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeName(value);
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Bytes -> JSON object

const utf8 = new TextDecoder('utf-8', { fatal: true });

function readJsonObject(value: Buffer | Uint8Array | string | null | undefined): JsonObject | Failure {
  if (value === null || value === undefined) return fail('INVALID_JSON', 'value is null (no payload)');
  const isText = typeof value === 'string';
  if (!isText && !(value instanceof Uint8Array))
    return fail('INVALID_JSON', `value is a ${typeName(value)}, not bytes`);
  const byteLength = isText ? Buffer.byteLength(value, 'utf8') : value.byteLength;
  if (byteLength === 0) return fail('INVALID_JSON', 'value is empty');
  if (byteLength > MAX_VALUE_BYTES) {
    return fail(
      'SCHEMA_VIOLATION',
      `value too large: ${byteLength} bytes (limit ${MAX_VALUE_BYTES}); not parsed`,
    );
  }
  let text: string;
  if (isText) {
    text = value;
  } else {
    try {
      text = utf8.decode(value);
    } catch {
      return fail('INVALID_JSON', 'value is not valid UTF-8');
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(protectAmountNumbers(text));
  } catch {
    // Protection keeps invalid JSON invalid; re-parse the original text so the message and
    // position refer to what was actually sent.
    return fail('INVALID_JSON', `not valid JSON: ${jsonErrorMessage(text).slice(0, 120)}`);
  }
  if (!isJsonObject(parsed)) return fail('INVALID_JSON', `expected a JSON object, got ${typeName(parsed)}`);
  return parsed;
}

function jsonErrorMessage(text: string): string {
  try {
    JSON.parse(text);
    return 'unparsable';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

// ---------------------------------------------------------------------------------------------
// Envelope

interface Unwrapped {
  payload: JsonObject;
  /** Stream named by the envelope's event type; null for a flat payload. */
  eventStream: StreamKind | null;
}

function identityKeys(profile: EventProfile, stream: StreamKind): readonly string[] {
  return fieldNamesOf(profile, stream)[0]![1];
}

function hasAnyKey(obj: JsonObject, keys: readonly string[]): boolean {
  return keys.some((key) => Object.hasOwn(obj, key));
}

/**
 * An object is an envelope of a profile shape if it has the shape's payload key, or its type key
 * while carrying no entity id at top level (a flat record may legitimately have a `type` field).
 */
function unwrapEnvelope(profile: EventProfile, obj: JsonObject): Unwrapped | Failure {
  const hasIdentity =
    hasAnyKey(obj, identityKeys(profile, 'ledger')) || hasAnyKey(obj, identityKeys(profile, 'order'));
  for (const shape of profile.envelopes) {
    const hasPayload = Object.hasOwn(obj, shape.payloadKey);
    if (!hasPayload && !(Object.hasOwn(obj, shape.typeKey) && !hasIdentity)) continue;
    const eventType = Object.hasOwn(obj, shape.typeKey) ? obj[shape.typeKey] : undefined;
    if (eventType === undefined || eventType === null) {
      return fail(
        'SCHEMA_VIOLATION',
        `envelope.${shape.typeKey}: required field ${eventType === null ? 'is null' : 'missing'}`,
      );
    }
    if (typeof eventType !== 'string') {
      return fail(
        'SCHEMA_VIOLATION',
        `envelope.${shape.typeKey}: expected string, got ${typeName(eventType)}`,
      );
    }
    const eventStream = streamForEventType(profile, eventType);
    if (!eventStream) {
      return fail(
        'UNKNOWN_EVENT_TYPE',
        `envelope.${shape.typeKey}: ${preview(eventType)} is not an event type of profile ${profile.id}`,
      );
    }
    const payload = hasPayload ? obj[shape.payloadKey] : undefined;
    if (!isJsonObject(payload)) {
      return fail(
        'SCHEMA_VIOLATION',
        `envelope.${shape.payloadKey}: ${payload === undefined ? 'required field missing' : `expected object, got ${typeName(payload)}`}`,
      );
    }
    return { payload, eventStream };
  }
  return { payload: obj, eventStream: null };
}

// ---------------------------------------------------------------------------------------------
// Field extraction (aliases) and validation (zod)

const LEDGER_FIELDS = [
  'tx_id',
  'wallet_id',
  'entry_type',
  'amount',
  'currency',
  'related_id',
  'related_type',
  'event_time',
  'updated_at',
  'source_version',
] as const;
const ORDER_FIELDS = [
  'order_id',
  'status',
  'amount',
  'currency',
  'payer_wallet_id',
  'payee_wallet_id',
  'event_time',
  'updated_at',
  'source_version',
] as const;

type FieldNames = readonly (readonly [field: string, names: readonly string[]])[];
// Per profile and stream: each canonical field (identity field first) with the names it is read under (itself,
// then its aliases). Built once per profile, not per event.
const FIELD_NAMES = new WeakMap<EventProfile, Record<StreamKind, FieldNames>>();
function fieldNamesOf(profile: EventProfile, stream: StreamKind): FieldNames {
  let byStream = FIELD_NAMES.get(profile);
  if (!byStream) {
    const build = (kind: StreamKind, fields: readonly string[]): FieldNames =>
      fields.map((field) => [field, [field, ...(profile.fieldAliases[kind][field] ?? [])]] as const);
    byStream = { ledger: build('ledger', LEDGER_FIELDS), order: build('order', ORDER_FIELDS) };
    FIELD_NAMES.set(profile, byStream);
  }
  return byStream[stream];
}

/**
 * Collect the canonical fields of a stream from a payload, resolving aliases. Only own properties
 * with known names are read, into a fresh object: `__proto__` or `constructor` keys in the input can
 * never reach a prototype. A JSON null counts as absent when another name of the field has a value.
 */
function extractFields(profile: EventProfile, stream: StreamKind, payload: JsonObject): JsonObject | Failure {
  const fields: JsonObject = {};
  for (const [field, names] of fieldNamesOf(profile, stream)) {
    let chosenName: string | undefined;
    let chosen: unknown = undefined;
    for (const name of names) {
      if (!Object.hasOwn(payload, name)) continue;
      const value = payload[name];
      if (value === null) {
        if (chosen === undefined) chosen = null;
        continue;
      }
      if (chosen === undefined || chosen === null) {
        chosen = value;
        chosenName = name;
      } else if (chosen !== value) {
        return fail('SCHEMA_VIOLATION', `${field}: conflicting values in "${chosenName}" and "${name}"`);
      }
    }
    if (chosen !== undefined) fields[field] = chosen;
  }
  return fields;
}

const ID_RULE = `must be 1..${MAX_ID_LENGTH} chars of [A-Za-z0-9._:-]`;

function stringError(issue: { input?: unknown }): string {
  if (issue.input === undefined) return 'required field missing';
  if (issue.input === null) return 'required field is null';
  return `expected string, got ${typeName(issue.input)}`;
}

function idField() {
  return z
    .string({ error: stringError })
    .refine((s) => s.length <= MAX_ID_LENGTH, { error: `longer than ${MAX_ID_LENGTH} chars`, abort: true })
    .refine((s) => ID_PATTERN.test(s), {
      error: (issue) => `invalid id ${preview(issue.input)}: ${ID_RULE}`,
    });
}

/** A free-text key (wallet_id, related_id): 1..max characters, anything but NUL. */
function textKeyField(max: number) {
  return z.string({ error: stringError }).refine((s) => textKeyProblem(s, max) === null, {
    error: (issue) => textKeyProblem(issue.input as string, max) ?? 'invalid',
  });
}

function labelField() {
  return z
    .string({ error: stringError })
    .min(1, { error: 'must not be empty' })
    .max(MAX_LABEL_LENGTH, { error: `longer than ${MAX_LABEL_LENGTH} chars` });
}

// Absent or null; normalisePayload maps both to null (a transform here would cost a pipe per field per event).
function optional<T extends z.ZodType>(schema: T) {
  return schema.nullish();
}

const amountField = z
  .unknown()
  .optional()
  .transform((value, ctx): string => {
    if (value === undefined || value === null) {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: value === undefined ? 'required field missing' : 'required field is null',
      });
      return z.NEVER;
    }
    if (typeof value !== 'string' && typeof value !== 'number') {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: `expected decimal string or number, got ${typeName(value)}`,
      });
      return z.NEVER;
    }
    const source =
      typeof value === 'string' && value.startsWith(NUMBER_LITERAL_PREFIX)
        ? value.slice(NUMBER_LITERAL_PREFIX.length)
        : value;
    const canonical = canonicalDecimal(source);
    if (canonical === null) {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: `not an exact finite decimal (at most ${MAX_AMOUNT_INTEGER_DIGITS} integer and ${MAX_AMOUNT_FRACTION_DIGITS} fraction digits): ${preview(value)}`,
      });
      return z.NEVER;
    }
    return canonical;
  });

function timestampField(required: boolean) {
  return z
    .unknown()
    .optional()
    .transform((value, ctx): Date | null => {
      if (value === undefined || value === null) {
        if (!required) return null;
        ctx.issues.push({
          code: 'custom',
          input: value,
          message: value === undefined ? 'required field missing' : 'required field is null',
        });
        return z.NEVER;
      }
      const date = parseTimestamp(value);
      if (!date) {
        ctx.issues.push({
          code: 'custom',
          input: value,
          message:
            typeof value === 'string'
              ? `not an RFC 3339 timestamp with offset or Z: ${preview(value)}`
              : `expected RFC 3339 timestamp string, got ${typeName(value)}`,
        });
        return z.NEVER;
      }
      return date;
    });
}

const sourceVersionField = z
  .unknown()
  .optional()
  .transform((value, ctx): number | null => {
    if (value === undefined || value === null) return null;
    const version = parseSourceVersion(value);
    if (version === null) {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: `must be an integer 0..${Number.MAX_SAFE_INTEGER} (number or digit string), got ${preview(value)}`,
      });
      return z.NEVER;
    }
    return version;
  });

const currencyField = optional(
  z.string({ error: stringError }).regex(/^[A-Z]{3}$/, {
    error: (issue) => `expected 3 uppercase letters (ISO 4217), got ${preview(issue.input)}`,
  }),
);

const ledgerSchema = z.object({
  tx_id: idField(),
  wallet_id: textKeyField(MAX_WALLET_ID_LENGTH),
  entry_type: labelField(),
  amount: amountField,
  currency: currencyField,
  related_id: optional(textKeyField(MAX_RELATED_ID_LENGTH)),
  related_type: optional(labelField()),
  event_time: timestampField(true),
  updated_at: timestampField(false),
  source_version: sourceVersionField,
});

const orderSchema = z.object({
  order_id: idField(),
  status: labelField(),
  amount: amountField,
  currency: currencyField,
  payer_wallet_id: optional(idField()),
  payee_wallet_id: optional(idField()),
  event_time: timestampField(true),
  updated_at: timestampField(false),
  source_version: sourceVersionField,
});

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 3)
    .map((issue) => `${issue.path.map(String).join('.') || '(payload)'}: ${issue.message}`)
    .join('; ');
}

function normalisePayload(profile: EventProfile, stream: StreamKind, payload: JsonObject): Decoded {
  const fields = extractFields(profile, stream, payload);
  if (isFailure(fields)) return fields;
  if (stream === 'ledger') {
    const parsed = ledgerSchema.safeParse(fields);
    if (!parsed.success) return fail('SCHEMA_VIOLATION', describeIssues(parsed.error.issues));
    const row = parsed.data;
    const entry: LedgerEntry = {
      tx_id: row.tx_id,
      wallet_id: row.wallet_id,
      entry_type: row.entry_type,
      amount: row.amount,
      currency: row.currency ?? null,
      related_id: row.related_id ?? null,
      related_type: row.related_type ?? (row.related_id != null ? 'PAYMENT_ORDER' : 'UNKNOWN'),
      event_time: row.event_time as Date,
      updated_at: row.updated_at,
      source_version: row.source_version,
    };
    return {
      ok: true,
      stream,
      entry,
      versionMissing: entry.updated_at === null && entry.source_version === null,
    };
  }
  const parsed = orderSchema.safeParse(fields);
  if (!parsed.success) return fail('SCHEMA_VIOLATION', describeIssues(parsed.error.issues));
  const row = parsed.data;
  const statusGroup = statusGroupOf(row.status);
  const order: PaymentOrder = {
    order_id: row.order_id,
    status: row.status,
    status_group: statusGroup,
    amount: row.amount,
    currency: row.currency ?? null,
    payer_wallet_id: row.payer_wallet_id ?? null,
    payee_wallet_id: row.payee_wallet_id ?? null,
    event_time: row.event_time as Date,
    updated_at: row.updated_at,
    source_version: row.source_version,
  };
  return {
    ok: true,
    stream,
    order,
    versionMissing: order.updated_at === null && order.source_version === null,
    statusUnknown: statusGroup === 'UNKNOWN',
  };
}

function isFailure(value: unknown): value is Failure {
  return isJsonObject(value) && value.ok === false && typeof value.reason === 'string';
}

// ---------------------------------------------------------------------------------------------
// Public entry points

/** A Kafka record: the topic picks the stream (UNMAPPED_TOPIC if the profile has no such topic). */
export function decodeKafkaMessage(profile: EventProfile, topic: string, value: Buffer | null): Decoded {
  try {
    const stream = streamForTopic(profile, topic);
    if (!stream) {
      return fail(
        'UNMAPPED_TOPIC',
        `topic ${preview(topic)} is not mapped by profile ${profile.id} (expects ${profile.topics.ledger}, ${profile.topics.order})`,
      );
    }
    const obj = readJsonObject(value);
    if (isFailure(obj)) return obj;
    const unwrapped = unwrapEnvelope(profile, obj);
    if (isFailure(unwrapped)) return unwrapped;
    if (unwrapped.eventStream && unwrapped.eventStream !== stream) {
      return fail(
        'UNKNOWN_EVENT_TYPE',
        `envelope event type is for the ${unwrapped.eventStream} stream but topic ${profile.topics[stream]} carries ${stream} events`,
      );
    }
    return normalisePayload(profile, stream, unwrapped.payload);
  } catch (err) {
    // Defensive: the decoder is meant to be total; an unexpected throw must still dead-letter, not crash the batch.
    return fail('SCHEMA_VIOLATION', `decoder error: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * A dump line (backfill): the stream comes from the envelope's event type, else from the fields —
 * a record with tx_id (or an alias) is a ledger entry, else one with order_id is an order.
 */
export function decodeDumpLine(profile: EventProfile, line: Buffer | string): Decoded {
  try {
    const obj = readJsonObject(line);
    if (isFailure(obj)) return obj;
    const unwrapped = unwrapEnvelope(profile, obj);
    if (isFailure(unwrapped)) return unwrapped;
    const { payload } = unwrapped;
    let stream = unwrapped.eventStream;
    if (!stream) {
      if (hasAnyKey(payload, identityKeys(profile, 'ledger'))) stream = 'ledger';
      else if (hasAnyKey(payload, identityKeys(profile, 'order'))) stream = 'order';
      else
        return fail(
          'SCHEMA_VIOLATION',
          'cannot tell the stream: no event type and neither tx_id nor order_id',
        );
    }
    return normalisePayload(profile, stream, payload);
  } catch (err) {
    return fail('SCHEMA_VIOLATION', `decoder error: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// Property tests: valid entries round-trip through every accepted serialisation; the decoder is
// total (never throws) on arbitrary bytes; amount protection never changes JSON validity.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeDumpLine,
  decodeKafkaMessage,
  getProfile,
  MAX_DETAIL_CHARS,
  statusGroupOf,
} from '../../../contract/index';
import type { Decoded, DlqReason, StreamKind } from '../../../contract/index';
import { NUMBER_LITERAL_PREFIX, protectAmountNumbers } from '../../../contract/json';

const canonical = getProfile('canonical-v1');
const legacy = getProfile('oltp-legacy-v0');

const idArb = fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/);
const labelArb = fc.string({ minLength: 1, maxLength: 64 });

/** An exact decimal: its canonical text and the raw token written into JSON (number or string). */
const amountArb = fc
  .record({
    negative: fc.boolean(),
    integer: fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9][0-9]{0,25}$/)),
    fraction: fc.option(fc.stringMatching(/^[0-9]{1,18}$/), { nil: undefined }),
    asNumber: fc.boolean(),
    plus: fc.boolean(),
  })
  .map(({ negative, integer, fraction, asNumber, plus }) => {
    const digits = integer + (fraction !== undefined ? `.${fraction}` : '');
    const isZero = /^[0.]*$/.test(digits);
    const expected = (negative && !isZero ? '-' : '') + digits;
    const text = (negative ? '-' : !asNumber && plus ? '+' : '') + digits;
    return { expected, token: asNumber ? text : JSON.stringify(text) };
  });

/** An RFC 3339 timestamp with a random offset and 0..9 fraction digits, and the Date it denotes. */
const timestampArb = fc
  .record({
    instant: fc.date({
      min: new Date('1001-01-01T00:00:00Z'),
      max: new Date('9998-12-31T23:59:59.999Z'),
      noInvalidDate: true,
    }),
    offsetMinutes: fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
    fractionDigits: fc.integer({ min: 0, max: 9 }),
    separator: fc.constantFrom('T', ' ', 't'),
    zulu: fc.constantFrom('Z', 'z'),
  })
  .map(({ instant, offsetMinutes, fractionDigits, separator, zulu }) => {
    const pad = (n: number, width = 2) => String(n).padStart(width, '0');
    const millis = instant.getUTCMilliseconds();
    const keptMillis =
      fractionDigits >= 3
        ? millis
        : Math.floor(millis / 10 ** (3 - fractionDigits)) * 10 ** (3 - fractionDigits);
    const expected = new Date(instant.getTime() - millis + keptMillis);
    const local = new Date(instant.getTime() + offsetMinutes * 60_000);
    const fraction = fractionDigits === 0 ? '' : `.${(pad(millis, 3) + '987654').slice(0, fractionDigits)}`;
    const sign = offsetMinutes < 0 ? '-' : '+';
    const abs = Math.abs(offsetMinutes);
    const offset =
      offsetMinutes === 0 && fractionDigits % 2 === 0
        ? zulu
        : `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
    const text =
      `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}${separator}` +
      `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}${fraction}${offset}`;
    return { text, expected };
  });

const versionArb = fc.option(
  fc
    .record({ value: fc.maxSafeNat(), asString: fc.boolean() })
    .map(({ value, asString }) => ({ value, token: asString ? String(value) : value })),
  { nil: null },
);

const ledgerArb = fc.record({
  tx_id: idArb,
  wallet_id: idArb,
  entry_type: labelArb,
  amount: amountArb,
  currency: fc.option(fc.stringMatching(/^[A-Z]{3}$/), { nil: null }),
  related_id: fc.option(idArb, { nil: null }),
  related_type: fc.option(labelArb, { nil: null }),
  event_time: timestampArb,
  updated_at: fc.option(timestampArb, { nil: null }),
  source_version: versionArb,
});

type Shape = 'flat' | 'envelope' | 'legacy-flat' | 'legacy-envelope';
const shapeArb = fc.constantFrom<Shape>('flat', 'envelope', 'legacy-flat', 'legacy-envelope');
const AMOUNT_SLOT = '"\u0001amount-slot"';

/** Serialise a record's fields in a shape; optional null fields are sometimes omitted, sometimes null. */
function serialise(
  stream: StreamKind,
  fields: Record<string, unknown>,
  shape: Shape,
  omitNulls: boolean,
  amountToken: string,
): string {
  const camel: Record<string, string> = {
    tx_id: 'txId',
    wallet_id: 'walletId',
    entry_type: 'entryType',
    related_id: 'relatedId',
    related_type: 'relatedType',
    event_time: 'createdAt',
    updated_at: 'updatedAt',
    source_version: 'sourceVersion',
    order_id: 'orderId',
    payer_wallet_id: 'payerWalletId',
    payee_wallet_id: 'payeeWalletId',
  };
  const renamed: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === null && omitNulls) continue;
    renamed[shape.startsWith('legacy') ? (camel[key] ?? key) : key] = value;
  }
  renamed.amount = '\u0001amount-slot';
  const eventType = stream === 'ledger' ? 'LedgerEntryUpserted' : 'PaymentOrderUpserted';
  const body =
    shape === 'envelope'
      ? { event_type: eventType, payload: renamed }
      : shape === 'legacy-envelope'
        ? { type: stream === 'ledger' ? 'LEDGER_ENTRY_UPSERTED' : 'PAYMENT_ORDER_UPSERTED', data: renamed }
        : renamed;
  return JSON.stringify(body).replace(JSON.stringify('\u0001amount-slot'), amountToken);
}

const REASONS: DlqReason[] = ['INVALID_JSON', 'SCHEMA_VIOLATION', 'UNMAPPED_TOPIC', 'UNKNOWN_EVENT_TYPE'];
function expectWellFormed(decoded: Decoded) {
  expect(typeof decoded.ok).toBe('boolean');
  if (!decoded.ok) {
    expect(REASONS).toContain(decoded.reason);
    expect(decoded.detail.length).toBeGreaterThan(0);
    expect(decoded.detail.length).toBeLessThanOrEqual(MAX_DETAIL_CHARS);
  }
}

describe('round trip of valid records', () => {
  it('ledger entries decode to the fields they were serialised from, in every shape', () => {
    fc.assert(
      fc.property(ledgerArb, shapeArb, fc.boolean(), (e, shape, omitNulls) => {
        const fields = {
          tx_id: e.tx_id,
          wallet_id: e.wallet_id,
          entry_type: e.entry_type,
          currency: e.currency,
          related_id: e.related_id,
          related_type: e.related_type,
          event_time: e.event_time.text,
          updated_at: e.updated_at?.text ?? null,
          source_version: e.source_version?.token ?? null,
        };
        const text = serialise('ledger', fields, shape, omitNulls, e.amount.token);
        expect(text).not.toContain(AMOUNT_SLOT);
        const profile = shape.startsWith('legacy') ? legacy : canonical;
        const expected = {
          ok: true,
          stream: 'ledger',
          versionMissing: e.updated_at === null && e.source_version === null,
          entry: {
            tx_id: e.tx_id,
            wallet_id: e.wallet_id,
            entry_type: e.entry_type,
            amount: e.amount.expected,
            currency: e.currency,
            related_id: e.related_id,
            related_type: e.related_type ?? (e.related_id !== null ? 'PAYMENT_ORDER' : 'UNKNOWN'),
            event_time: e.event_time.expected,
            updated_at: e.updated_at?.expected ?? null,
            source_version: e.source_version?.value ?? null,
          },
        };
        expect(decodeKafkaMessage(profile, profile.topics.ledger, Buffer.from(text))).toEqual(expected);
        expect(decodeDumpLine(profile, text)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('payment orders decode to the fields they were serialised from, with their status group', () => {
    const statusArb = fc.oneof(
      fc.constantFrom('CREATED', 'PAID', 'DECLINED', 'CANCELED', 'PARTIALLY_REFUNDED'),
      labelArb,
    );
    const orderArb = fc.record({
      order_id: idArb,
      status: statusArb,
      amount: amountArb,
      currency: fc.option(fc.stringMatching(/^[A-Z]{3}$/), { nil: null }),
      payer_wallet_id: fc.option(idArb, { nil: null }),
      payee_wallet_id: fc.option(idArb, { nil: null }),
      event_time: timestampArb,
      updated_at: fc.option(timestampArb, { nil: null }),
      source_version: versionArb,
    });
    fc.assert(
      fc.property(orderArb, shapeArb, fc.boolean(), (o, shape, omitNulls) => {
        const fields = {
          order_id: o.order_id,
          status: o.status,
          currency: o.currency,
          payer_wallet_id: o.payer_wallet_id,
          payee_wallet_id: o.payee_wallet_id,
          event_time: o.event_time.text,
          updated_at: o.updated_at?.text ?? null,
          source_version: o.source_version?.token ?? null,
        };
        const text = serialise('order', fields, shape, omitNulls, o.amount.token);
        const profile = shape.startsWith('legacy') ? legacy : canonical;
        const group = statusGroupOf(o.status);
        const expected = {
          ok: true,
          stream: 'order',
          versionMissing: o.updated_at === null && o.source_version === null,
          statusUnknown: group === 'UNKNOWN',
          order: {
            order_id: o.order_id,
            status: o.status,
            status_group: group,
            amount: o.amount.expected,
            currency: o.currency,
            payer_wallet_id: o.payer_wallet_id,
            payee_wallet_id: o.payee_wallet_id,
            event_time: o.event_time.expected,
            updated_at: o.updated_at?.expected ?? null,
            source_version: o.source_version?.value ?? null,
          },
        };
        expect(decodeKafkaMessage(profile, profile.topics.order, Buffer.from(text))).toEqual(expected);
        expect(decodeDumpLine(profile, Buffer.from(text))).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });
});

describe('the decoder is total', () => {
  const topicArb = fc.constantFrom(
    'ledger.entry.upserted',
    'payment.order.upserted',
    'oltp.ledger_entries',
    'other',
  );
  const profileArb = fc.constantFrom(canonical, legacy);

  it('arbitrary bytes always yield a Decoded', () => {
    fc.assert(
      fc.property(profileArb, topicArb, fc.uint8Array({ maxLength: 300 }), (profile, topic, bytes) => {
        expectWellFormed(decodeKafkaMessage(profile, topic, Buffer.from(bytes)));
        expectWellFormed(decodeDumpLine(profile, Buffer.from(bytes)));
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary JSON values (objects with core-looking keys included) always yield a Decoded', () => {
    const coreKeys = fc.constantFrom(
      'tx_id',
      'order_id',
      'amount',
      'event_time',
      'payload',
      'event_type',
      'type',
      'data',
      '__proto__',
      'txId',
      'version',
    );
    const valueArb = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue({ maxDepth: 2 }),
        fc.dictionary(fc.oneof(coreKeys, fc.string()), tie('node'), { maxKeys: 6 }),
      ),
    })).node;
    fc.assert(
      fc.property(profileArb, topicArb, valueArb, (profile, topic, value) => {
        const text = JSON.stringify(value) ?? 'null';
        expectWellFormed(decodeKafkaMessage(profile, topic, Buffer.from(text)));
        expectWellFormed(decodeDumpLine(profile, text));
      }),
      { numRuns: 500 },
    );
  });

  it('single-character corruptions of a valid message always yield a Decoded', () => {
    const valid =
      '{"event_type":"LedgerEntryUpserted","payload":{"tx_id":"t-1","wallet_id":"w","entry_type":"PAYMENT","amount":1500.10,"event_time":"2026-01-01T00:00:00Z","version":3}}';
    fc.assert(
      fc.property(
        fc.nat({ max: valid.length - 1 }),
        fc.string({ maxLength: 3 }),
        fc.nat({ max: 3 }),
        (at, insert, deleteCount) => {
          const corrupted = valid.slice(0, at) + insert + valid.slice(at + deleteCount);
          expectWellFormed(decodeKafkaMessage(canonical, 'ledger.entry.upserted', Buffer.from(corrupted)));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('amount protection', () => {
  function parses(text: string): boolean {
    try {
      JSON.parse(text);
      return true;
    } catch {
      return false;
    }
  }
  /** The parsed value with every number under an "amount" key replaced by its protected string. */
  function protectedView(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => protectedView(v));
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        Object.defineProperty(out, k, {
          value: k === 'amount' && typeof v === 'number' ? 'NUMBER' : protectedView(v),
          enumerable: true,
        });
      }
      return out;
    }
    return value;
  }
  function normaliseProtected(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(normaliseProtected);
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        const isProtected = k === 'amount' && typeof v === 'string' && v.startsWith(NUMBER_LITERAL_PREFIX);
        Object.defineProperty(out, k, {
          value: isProtected ? 'NUMBER' : normaliseProtected(v),
          enumerable: true,
        });
      }
      return out;
    }
    return value;
  }

  it('keeps valid JSON valid and invalid JSON invalid', () => {
    const base = '{"amount": -12.50e+1, "x": ["amount", {"amount":0}], "s": "\\"amount\\":1"}';
    // No backslash: the shortcut that finds "amount" keys without walking every string literal.
    const plainBase =
      '{"amount": -12.50e+1, "x": ["amount", {"amount":0}], "s": "amount: 1", "k": {"amount" :7}}';
    const mutated = (text: string) =>
      fc
        .tuple(fc.nat({ max: text.length - 1 }), fc.string({ maxLength: 3 }), fc.nat({ max: 2 }))
        .map(([at, insert, del]) => text.slice(0, at) + insert + text.slice(at + del));
    const textArb = fc.oneof(
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify({ amount: v, nested: { amount: v } })),
      mutated(base),
      mutated(plainBase),
    );
    fc.assert(
      fc.property(textArb, (text) => {
        const protectedText = protectAmountNumbers(text);
        expect(parses(protectedText)).toBe(parses(text));
        if (parses(text)) {
          expect(normaliseProtected(JSON.parse(protectedText))).toEqual(protectedView(JSON.parse(text)));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('carries the exact source digits of amount numbers', () => {
    const protectedText = protectAmountNumbers(
      '{"amount" : 12345678901234567890.123,"b":{"amount":-0.10e-2}}',
    );
    expect(JSON.parse(protectedText)).toEqual({
      amount: `${NUMBER_LITERAL_PREFIX}12345678901234567890.123`,
      b: { amount: `${NUMBER_LITERAL_PREFIX}-0.10e-2` },
    });
  });
});

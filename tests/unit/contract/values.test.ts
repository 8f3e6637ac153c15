// Scalar rules: ids, exact decimals, timestamps, versions, the frozen status table, the profile table.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  PROFILES,
  STATUS_GROUPS_V2,
  canonicalDecimal,
  charLength,
  getProfile,
  isValidId,
  MAX_WALLET_ID_LENGTH,
  textKeyProblem,
  normalizeEventType,
  parseSourceVersion,
  parseTimestamp,
  formatTimestamp,
  statusGroupOf,
  streamForEventType,
  streamForTopic,
} from '../../../contract/index';

describe('isValidId', () => {
  it.each(['a', 'tx-1', 'TX_2026.01:abc-9', 'a'.repeat(128), '0', '...', ':-_'])('accepts %j', (id) => {
    expect(isValidId(id)).toBe(true);
  });
  it.each(['', 'a'.repeat(129), 'tx 1', 'tx/1', "tx'1", 'tx;1', 'tx-é', 'tx\n', '%', 'ａ', 'a\u0000'])(
    'rejects %j',
    (id) => {
      expect(isValidId(id)).toBe(false);
    },
  );
  it('rejects non-strings without throwing', () => {
    expect(isValidId(42 as unknown as string)).toBe(false);
    expect(isValidId(null as unknown as string)).toBe(false);
  });
});

describe('wallet ids and free-text keys', () => {
  it('counts characters as PostgreSQL does (code points, not UTF-16 units)', () => {
    expect(charLength('')).toBe(0);
    expect(charLength('abc')).toBe(3);
    expect(charLength('지갑')).toBe(2);
    expect(charLength('😀😀')).toBe(2);
    expect(charLength('\ud800x')).toBe(2); // a lone surrogate is one unit
  });
  it.each(['w', 'w 1', 'w/1', 'user@example.com', '지갑-1', "'; --", '%', '😀'.repeat(128)])(
    'accepts wallet_id %j',
    (w) => expect(textKeyProblem(w, MAX_WALLET_ID_LENGTH)).toBeNull(),
  );
  it.each(['', 'w\u0000', 'x'.repeat(129), '😀'.repeat(129)])('rejects wallet_id %j', (w) =>
    expect(textKeyProblem(w, MAX_WALLET_ID_LENGTH)).not.toBeNull(),
  );
  it('names the problem', () => {
    expect(textKeyProblem('', 128)).toBe('must not be empty');
    expect(textKeyProblem('x'.repeat(129), 128)).toBe('longer than 128 characters');
    expect(textKeyProblem('a\u0000', 128)).toBe('contains a NUL character');
    expect(textKeyProblem('r'.repeat(512), 512)).toBeNull();
  });
});

describe('canonicalDecimal', () => {
  it.each([
    ['1500.10', '1500.10'],
    ['1500.00', '1500.00'],
    ['0.1', '0.1'],
    ['+12.50', '12.50'],
    ['-3.00', '-3.00'],
    ['-0', '0'],
    ['-0.00', '0.00'],
    ['007.5', '7.5'],
    ['0', '0'],
    ['12345678901234567890.123', '12345678901234567890.123'],
    ['1.5e2', '150'],
    ['1.500e2', '150.0'],
    ['1E3', '1000'],
    ['1e-3', '0.001'],
    ['-2.5E-2', '-0.025'],
    ['0.5e1', '5'],
    ['9'.repeat(38) + '.' + '9'.repeat(38), '9'.repeat(38) + '.' + '9'.repeat(38)],
  ])('%j -> %j', (input, expected) => {
    expect(canonicalDecimal(input)).toBe(expected);
  });

  it('takes JS numbers and bigints through their exact text', () => {
    expect(canonicalDecimal(0.1)).toBe('0.1');
    expect(canonicalDecimal(1500)).toBe('1500');
    expect(canonicalDecimal(-42.5)).toBe('-42.5');
    expect(canonicalDecimal(1e21)).toBe('1000000000000000000000');
    expect(canonicalDecimal(1e-7)).toBe('0.0000001');
    expect(canonicalDecimal(12345678901234567890n)).toBe('12345678901234567890');
  });

  it.each([
    'NaN',
    'Infinity',
    '-Infinity',
    '1e400',
    '1e-400',
    '0x10',
    '',
    ' 1',
    '1 ',
    '1,000',
    '.5',
    '5.',
    '--5',
    '+-5',
    '1e',
    '1.2.3',
    'abc',
    '9'.repeat(39),
    '0.' + '1'.repeat(39),
    '١٢٣',
    '1_000',
    '1'.repeat(201),
  ])('rejects %j', (input) => {
    expect(canonicalDecimal(input)).toBeNull();
  });

  it.each([NaN, Infinity, -Infinity, true, false, null, undefined, {}, [], [1], Symbol('x')])(
    'rejects %s',
    (input) => {
      expect(canonicalDecimal(input)).toBeNull();
    },
  );
});

describe('parseTimestamp', () => {
  it.each([
    ['2026-01-01T00:00:00Z', '2026-01-01T00:00:00.000Z'],
    ['2026-01-01t00:00:00z', '2026-01-01T00:00:00.000Z'],
    ['2026-01-01 09:00:00+09:00', '2026-01-01T00:00:00.000Z'],
    ['2025-12-31T19:30:00-04:30', '2026-01-01T00:00:00.000Z'],
    ['2026-03-01T12:00:00.1Z', '2026-03-01T12:00:00.100Z'],
    ['2026-03-01T12:00:00.123456789Z', '2026-03-01T12:00:00.123Z'],
    ['2024-02-29T23:59:59.999+00:00', '2024-02-29T23:59:59.999Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
    ['0099-06-01T00:00:00Z', '0099-06-01T00:00:00.000Z'],
    ['9999-12-31T23:59:59Z', '9999-12-31T23:59:59.000Z'],
  ])('%s -> %s', (input, iso) => {
    expect(parseTimestamp(input)?.toISOString()).toBe(iso);
  });

  it.each([
    '2026-01-01T00:00:00',
    '2026-01-01',
    '2026-02-30T00:00:00Z',
    '2025-02-29T00:00:00Z',
    '2100-02-29T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-00-10T00:00:00Z',
    '2026-01-00T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T23:60:00Z',
    '2026-01-01T23:59:60Z',
    '2026-01-01T00:00:00+0900',
    '2026-01-01T00:00:00+24:00',
    '2026-01-01T00:00:00+09:60',
    '2026-01-01T00:00:00.Z',
    '2026-01-01T00:00:00.1234567890Z',
    '0000-01-01T00:00:00Z',
    '+02026-01-01T00:00:00Z',
    '2026-1-1T00:00:00Z',
    ' 2026-01-01T00:00:00Z',
    '2026-01-01T00:00:00 UTC',
    'now',
    '',
  ])('rejects %j', (input) => {
    expect(parseTimestamp(input)).toBeNull();
  });

  it('rejects non-strings', () => {
    expect(parseTimestamp(1767225600000)).toBeNull();
    expect(parseTimestamp(new Date())).toBeNull();
    expect(parseTimestamp(null)).toBeNull();
  });
});

describe('parseTimestamp and formatTimestamp', () => {
  const first = -62_135_596_800_000; // 0001-01-01T00:00:00.000Z
  const last = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
  const instant = fc.integer({ min: first, max: last });

  it('formatTimestamp is toISOString for every instant of years 0001-9999', () => {
    for (const ms of [first, last, 0, -1, 951_782_400_000, 951_868_799_999, 4_107_542_400_000])
      expect(formatTimestamp(new Date(ms))).toBe(new Date(ms).toISOString());
    fc.assert(
      fc.property(instant, (ms) => {
        expect(formatTimestamp(new Date(ms))).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 20_000 },
    );
  });

  it('formatTimestamp falls back to toISOString outside 0001-9999', () => {
    for (const ms of [first - 1, last + 1, -8.64e15, 8.64e15])
      expect(formatTimestamp(new Date(ms))).toBe(new Date(ms).toISOString());
  });

  it('parseTimestamp reads any offset and fraction back to the same instant', () => {
    const offset = fc.record({
      sign: fc.constantFrom('+', '-'),
      hours: fc.integer({ min: 0, max: 23 }),
      minutes: fc.integer({ min: 0, max: 59 }),
    });
    fc.assert(
      fc.property(instant, offset, fc.integer({ min: 0, max: 6 }), (ms, o, extraDigits) => {
        const minutes = (o.sign === '-' ? -1 : 1) * (o.hours * 60 + o.minutes);
        const local = new Date(ms + minutes * 60_000);
        if (local.getTime() < first || local.getTime() > last) return;
        const pad = (n: number) => String(n).padStart(2, '0');
        const fraction = String(local.getUTCMilliseconds()).padStart(3, '0') + '7'.repeat(extraDigits);
        const text =
          `${local.toISOString().slice(0, 19)}.${fraction}` + `${o.sign}${pad(o.hours)}:${pad(o.minutes)}`;
        expect(parseTimestamp(text)?.getTime()).toBe(ms);
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('parseSourceVersion', () => {
  it.each([
    [0, 0],
    [7, 7],
    [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    ['0', 0],
    ['42', 42],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
  ])('%j -> %j', (input, expected) => {
    expect(parseSourceVersion(input)).toBe(expected);
  });
  it('turns -0 into 0', () => {
    expect(Object.is(parseSourceVersion(-0), 0)).toBe(true);
  });
  it.each([
    -1,
    1.5,
    2 ** 53,
    NaN,
    Infinity,
    '-1',
    '1.0',
    '',
    ' 1',
    '1e3',
    '9007199254740992',
    '99999999999999999',
    'x',
    true,
    null,
    {},
  ])('rejects %j', (input) => {
    expect(parseSourceVersion(input)).toBeNull();
  });
});

describe('statusGroupOf (frozen status set v2)', () => {
  it.each([
    ['CREATED', 'IN_PROGRESS'],
    ['PENDING', 'IN_PROGRESS'],
    ['PROCESSING', 'IN_PROGRESS'],
    ['AUTHORIZED', 'IN_PROGRESS'],
    ['COMPLETED', 'SUCCESS'],
    ['SETTLED', 'SUCCESS'],
    ['PAID', 'SUCCESS'],
    ['FAILED', 'FAILED'],
    ['DECLINED', 'FAILED'],
    ['EXPIRED', 'FAILED'],
    ['CANCELLED', 'CANCELLED'],
    ['CANCELED', 'CANCELLED'],
    ['REFUNDED', 'REFUNDED'],
    ['PARTIALLY_REFUNDED', 'REFUNDED'],
  ])('%s -> %s', (status, group) => {
    expect(statusGroupOf(status)).toBe(group);
  });
  it.each([
    'UNKNOWN',
    'completed',
    'Paid',
    ' PAID',
    'PAID ',
    'CHARGEBACK',
    '',
    'toString',
    '__proto__',
    'constructor',
  ])('%j -> UNKNOWN', (status) => {
    expect(statusGroupOf(status)).toBe('UNKNOWN');
  });
  it('table has exactly the 14 statuses of SPEC §1.3 and is frozen', () => {
    expect(Object.values(STATUS_GROUPS_V2).flat()).toHaveLength(14);
    expect(Object.isFrozen(STATUS_GROUPS_V2)).toBe(true);
    expect(Object.isFrozen(STATUS_GROUPS_V2.SUCCESS)).toBe(true);
  });
});

describe('profiles', () => {
  it('has canonical-v1 and oltp-legacy-v0 with their topics', () => {
    expect(getProfile('canonical-v1').topics).toEqual({
      ledger: 'ledger.entry.upserted',
      order: 'payment.order.upserted',
    });
    expect(getProfile('oltp-legacy-v0').topics).toEqual({
      ledger: 'oltp.ledger_entries',
      order: 'oltp.payment_orders',
    });
    for (const [id, profile] of Object.entries(PROFILES)) {
      expect(profile.id).toBe(id);
      expect(Number.isInteger(profile.version)).toBe(true);
      expect(profile.topics.ledger).not.toBe(profile.topics.order);
    }
  });

  it('unknown profile id throws an error naming the known ids', () => {
    expect(() => getProfile('canonical-v9')).toThrow(
      /unknown event profile id "canonical-v9".*canonical-v1, oltp-legacy-v0/,
    );
    expect(() => getProfile('toString')).toThrow(/known ids/);
    expect(() => getProfile('__proto__')).toThrow(/known ids/);
  });

  it('profiles are immutable data', () => {
    const profile = getProfile('canonical-v1');
    expect(Object.isFrozen(PROFILES)).toBe(true);
    expect(Object.isFrozen(profile.topics)).toBe(true);
    expect(Object.isFrozen(profile.eventTypes.ledger)).toBe(true);
    expect(() => {
      (profile.topics as { ledger: string }).ledger = 'hijacked';
    }).toThrow();
  });

  it('streamForTopic maps exactly the profile topics', () => {
    const canonical = getProfile('canonical-v1');
    expect(streamForTopic(canonical, 'ledger.entry.upserted')).toBe('ledger');
    expect(streamForTopic(canonical, 'payment.order.upserted')).toBe('order');
    expect(streamForTopic(canonical, 'oltp.ledger_entries')).toBeNull();
    expect(streamForTopic(getProfile('oltp-legacy-v0'), 'oltp.payment_orders')).toBe('order');
  });

  it('streamForEventType knows the documented event types', () => {
    const canonical = getProfile('canonical-v1');
    expect(streamForEventType(canonical, 'LedgerEntryUpserted')).toBe('ledger');
    expect(streamForEventType(canonical, 'ledger.entry.upserted')).toBe('ledger');
    expect(streamForEventType(canonical, 'PaymentOrderUpserted')).toBe('order');
    expect(streamForEventType(canonical, 'payment.order.upserted')).toBe('order');
    expect(streamForEventType(getProfile('oltp-legacy-v0'), 'LEDGER_ENTRY_UPSERTED')).toBe('ledger');
    expect(streamForEventType(canonical, 'oltp.ledger_entries')).toBeNull(); // legacy-only type
  });

  it.each([
    ['LEDGER_ENTRY_UPSERTED', 'ledger'],
    ['ledger_entry_upserted', 'ledger'],
    ['ledger-entry-upserted', 'ledger'],
    ['LedgerEntryUpserted', 'ledger'],
    ['ledgerEntryUpserted', 'ledger'],
    ['Ledger.Entry.Upserted', 'ledger'],
    ['PAYMENT_ORDER_UPSERTED', 'order'],
    ['payment_order_upserted', 'order'],
    ['Payment-Order-Upserted', 'order'],
  ] as const)('canonical-v1 matches event type %s case- and separator-insensitively', (type, stream) => {
    expect(streamForEventType(getProfile('canonical-v1'), type)).toBe(stream);
    expect(streamForEventType(getProfile('oltp-legacy-v0'), type)).toBe(stream);
  });

  it.each([
    'LEDGER_ENTRY_DELETED',
    'LedgerEntryUpsert',
    'ledger entry upserted',
    'ledger/entry/upserted',
    'PAYMENT_ORDER',
    '',
    '___',
    'L'.repeat(300),
  ])('canonical-v1 still refuses the different event type %j', (type) => {
    expect(streamForEventType(getProfile('canonical-v1'), type)).toBeNull();
  });

  it('normalizeEventType drops case and the . _ - separators only', () => {
    expect(normalizeEventType('LEDGER_ENTRY_UPSERTED')).toBe('ledgerentryupserted');
    expect(normalizeEventType('ledger.entry-upserted')).toBe('ledgerentryupserted');
    expect(normalizeEventType('Ledger Entry/Upserted')).toBe('ledger entry/upserted');
  });

  it('no profile has an event type that names both streams once normalised', () => {
    for (const profile of Object.values(PROFILES)) {
      const ledger = new Set(profile.eventTypes.ledger.map(normalizeEventType));
      for (const t of profile.eventTypes.order) expect(ledger.has(normalizeEventType(t)), t).toBe(false);
    }
  });
});

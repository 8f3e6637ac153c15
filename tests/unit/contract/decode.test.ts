// Happy paths of decodeKafkaMessage / decodeDumpLine for both profiles, flat and enveloped.
import { describe, expect, it } from 'vitest';
import { decodeDumpLine, decodeKafkaMessage, getProfile } from '../../../contract/index';
import type { Decoded, LedgerEntry, PaymentOrder } from '../../../contract/index';

const canonical = getProfile('canonical-v1');
const legacy = getProfile('oltp-legacy-v0');
const LEDGER = 'ledger.entry.upserted';
const ORDER = 'payment.order.upserted';

function entryOf(decoded: Decoded): LedgerEntry {
  if (!decoded.ok) throw new Error(`expected ok, got ${decoded.reason}: ${decoded.detail}`);
  if (decoded.stream !== 'ledger') throw new Error(`expected ledger, got ${decoded.stream}`);
  return decoded.entry;
}
function orderOf(decoded: Decoded): PaymentOrder {
  if (!decoded.ok) throw new Error(`expected ok, got ${decoded.reason}: ${decoded.detail}`);
  if (decoded.stream !== 'order') throw new Error(`expected order, got ${decoded.stream}`);
  return decoded.order;
}
const kafka = (topic: string, text: string, profile = canonical) =>
  decodeKafkaMessage(profile, topic, Buffer.from(text, 'utf8'));

describe('canonical-v1 ledger entries', () => {
  it('decodes a flat payload with every field', () => {
    const decoded = kafka(
      LEDGER,
      '{"tx_id":"tx-1","wallet_id":"w-1","entry_type":"PAYMENT","amount":"1500.10","currency":"KRW","related_id":"ord-1",' +
        '"related_type":"PAYMENT_ORDER","event_time":"2026-01-01T09:00:00+09:00","updated_at":"2026-01-01T00:00:05.250Z","source_version":3}',
    );
    expect(decoded).toEqual({
      ok: true,
      stream: 'ledger',
      versionMissing: false,
      entry: {
        tx_id: 'tx-1',
        wallet_id: 'w-1',
        entry_type: 'PAYMENT',
        amount: '1500.10',
        currency: 'KRW',
        related_id: 'ord-1',
        related_type: 'PAYMENT_ORDER',
        event_time: new Date('2026-01-01T00:00:00.000Z'),
        updated_at: new Date('2026-01-01T00:00:05.250Z'),
        source_version: 3,
      },
    });
  });

  it.each([
    ['1500.10', '1500.10'],
    ['1500.00', '1500.00'],
    ['0.1', '0.1'],
    ['12345678901234567890.123', '12345678901234567890.123'],
    ['-250.5', '-250.5'],
    ['0', '0'],
    ['1.5e2', '150'],
    [`${'9'.repeat(38)}.${'0'.repeat(37)}1`, `${'9'.repeat(38)}.${'0'.repeat(37)}1`],
  ])('keeps a JSON number amount %s exactly as %j', (raw, expected) => {
    const text = `{"tx_id":"t","wallet_id":"w","entry_type":"PAYMENT","amount": ${raw} ,"event_time":"2026-01-01T00:00:00Z"}`;
    expect(entryOf(kafka(LEDGER, text)).amount).toBe(expected);
  });

  it('keeps string amounts, strips a leading +', () => {
    const base = { tx_id: 't', wallet_id: 'w', entry_type: 'PAYMENT', event_time: '2026-01-01T00:00:00Z' };
    expect(entryOf(kafka(LEDGER, JSON.stringify({ ...base, amount: '+12.50' }))).amount).toBe('12.50');
    expect(entryOf(kafka(LEDGER, JSON.stringify({ ...base, amount: '-3.00' }))).amount).toBe('-3.00');
    expect(
      entryOf(kafka(LEDGER, JSON.stringify({ ...base, amount: '12345678901234567890.123' }))).amount,
    ).toBe('12345678901234567890.123');
  });

  it('finds the amount under an escaped key spelling and leaves digits inside strings alone', () => {
    const text =
      '{"note":"\\"amount\\": 1.50, \\"x\\"","tx_id":"t","wallet_id":"w","entry_type":"PAYMENT",' +
      '"\\u0061mount":1.10,"event_time":"2026-01-01T00:00:00Z","meta":{"amount":2.50,"s":"amount"}}';
    expect(entryOf(kafka(LEDGER, text)).amount).toBe('1.10');
  });

  it('takes wallet_id and related_id as free text (SPEC §1.2: string 1..128 / string), stored as received', () => {
    for (const [wallet, related] of [
      ['wallet 42', 'order/2026/7'],
      ['지갑-1', '주문 #9'],
      ['user@example.com', 'ord%1'],
      ['😀'.repeat(128), 'r'.repeat(512)],
    ]) {
      const d = kafka(
        LEDGER,
        JSON.stringify({
          tx_id: 't',
          wallet_id: wallet,
          entry_type: 'PAYMENT',
          amount: '1',
          related_id: related,
          event_time: '2026-01-01T00:00:00Z',
        }),
      );
      expect(entryOf(d)).toMatchObject({
        wallet_id: wallet,
        related_id: related,
        related_type: 'PAYMENT_ORDER',
      });
    }
  });

  it('applies defaults: related_type from related_id, null optionals, versionMissing', () => {
    const withRelated = kafka(
      LEDGER,
      '{"tx_id":"t","wallet_id":"w","entry_type":"RECEIVE","amount":1,"related_id":"o-9","event_time":"2026-01-01T00:00:00Z"}',
    );
    expect(entryOf(withRelated)).toMatchObject({
      related_id: 'o-9',
      related_type: 'PAYMENT_ORDER',
      currency: null,
      updated_at: null,
      source_version: null,
    });
    expect(withRelated.ok && withRelated.versionMissing).toBe(true);

    const bare = kafka(
      LEDGER,
      '{"tx_id":"t","wallet_id":"w","entry_type":"ADJUSTMENT","amount":1,"related_id":null,"currency":null,"event_time":"2026-01-01T00:00:00Z"}',
    );
    expect(entryOf(bare)).toMatchObject({ related_id: null, related_type: 'UNKNOWN' });

    const explicit = kafka(
      LEDGER,
      '{"tx_id":"t","wallet_id":"w","entry_type":"REFUND","amount":1,"related_id":"r-1","related_type":"REFUND_REQUEST","event_time":"2026-01-01T00:00:00Z"}',
    );
    expect(entryOf(explicit).related_type).toBe('REFUND_REQUEST');
  });

  it('versionMissing is false when only one of updated_at / source_version is present', () => {
    const onlyVersion = kafka(
      LEDGER,
      '{"tx_id":"t","wallet_id":"w","entry_type":"P","amount":1,"event_time":"2026-01-01T00:00:00Z","version":"12"}',
    );
    expect(onlyVersion.ok && onlyVersion.versionMissing).toBe(false);
    expect(entryOf(onlyVersion).source_version).toBe(12);
    const onlyUpdated = kafka(
      LEDGER,
      '{"tx_id":"t","wallet_id":"w","entry_type":"P","amount":1,"event_time":"2026-01-01T00:00:00Z","updated_at":"2026-01-02T00:00:00Z"}',
    );
    expect(onlyUpdated.ok && onlyUpdated.versionMissing).toBe(false);
  });

  it('keeps entry_type exactly as received and ignores unknown fields', () => {
    const decoded = kafka(
      LEDGER,
      '{"tx_id":"t","wallet_id":"w","entry_type":"payment ","amount":1,"event_time":"2026-01-01T00:00:00Z","extra":{"deep":[1,2,3]},"txId":"ignored-in-canonical"}',
    );
    expect(entryOf(decoded).entry_type).toBe('payment ');
    expect(Object.keys(entryOf(decoded))).not.toContain('extra');
  });

  it('accepts the same value under a field and its alias', () => {
    const decoded = kafka(
      LEDGER,
      '{"tx_id":"t","wallet_id":"w","entry_type":"P","amount":1,"event_time":"2026-01-01T00:00:00Z","version":4,"source_version":4}',
    );
    expect(entryOf(decoded).source_version).toBe(4);
    const nullAlias = kafka(
      LEDGER,
      '{"tx_id":"t","wallet_id":"w","entry_type":"P","amount":1,"event_time":"2026-01-01T00:00:00Z","version":null,"source_version":5}',
    );
    expect(entryOf(nullAlias).source_version).toBe(5);
  });

  it.each([
    'LedgerEntryUpserted',
    'ledger.entry.upserted',
    // another producer's spellings: any case, `.`/`_`/`-` separators
    'LEDGER_ENTRY_UPSERTED',
    'ledger_entry_upserted',
    'ledger-entry-upserted',
    'Ledger.Entry_Upserted',
  ])('decodes an envelope with event_type %s', (eventType) => {
    const payload = {
      tx_id: 'tx-e',
      wallet_id: 'w',
      entry_type: 'PAYMENT',
      amount: '5.00',
      event_time: '2026-01-01T00:00:00Z',
    };
    const entry = entryOf(
      kafka(LEDGER, JSON.stringify({ event_type: eventType, payload, emitted_at: 'whenever' })),
    );
    expect(entry).toMatchObject({ tx_id: 'tx-e', amount: '5.00' });
  });

  it('keeps a JSON number amount exact inside an envelope', () => {
    const text =
      '{"event_type":"LedgerEntryUpserted","payload":{"tx_id":"t","wallet_id":"w","entry_type":"PAYMENT","amount":1500.10,"event_time":"2026-01-01T00:00:00Z"}}';
    expect(entryOf(kafka(LEDGER, text)).amount).toBe('1500.10');
  });

  it('accepts a flat record that carries an event_type tag next to its fields', () => {
    const text =
      '{"event_type":"LedgerEntryUpserted","tx_id":"t","wallet_id":"w","entry_type":"PAYMENT","amount":1,"event_time":"2026-01-01T00:00:00Z"}';
    expect(entryOf(kafka(LEDGER, text)).tx_id).toBe('t');
  });

  it('strips a UTF-8 BOM and surrounding whitespace', () => {
    const value = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(
        ' {"tx_id":"t","wallet_id":"w","entry_type":"P","amount":1,"event_time":"2026-01-01T00:00:00Z"}\n',
      ),
    ]);
    expect(entryOf(decodeKafkaMessage(canonical, LEDGER, value)).tx_id).toBe('t');
  });

  it('accepts a value of exactly 1 MiB', () => {
    const head =
      '{"tx_id":"t","wallet_id":"w","entry_type":"P","amount":1,"event_time":"2026-01-01T00:00:00Z","pad":"';
    const value = head + 'x'.repeat(1024 * 1024 - head.length - 2) + '"}';
    expect(Buffer.byteLength(value)).toBe(1024 * 1024);
    expect(kafka(LEDGER, value).ok).toBe(true);
  });
});

describe('canonical-v1 payment orders', () => {
  it('decodes a flat order with status group', () => {
    const decoded = kafka(
      ORDER,
      '{"order_id":"ord-1","status":"SETTLED","amount":1500.10,"currency":"USD","payer_wallet_id":"w-1","payee_wallet_id":"w-2",' +
        '"event_time":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:01:00Z","source_version":"2"}',
    );
    expect(decoded).toEqual({
      ok: true,
      stream: 'order',
      versionMissing: false,
      statusUnknown: false,
      order: {
        order_id: 'ord-1',
        status: 'SETTLED',
        status_group: 'SUCCESS',
        amount: '1500.10',
        currency: 'USD',
        payer_wallet_id: 'w-1',
        payee_wallet_id: 'w-2',
        event_time: new Date('2026-01-01T00:00:00Z'),
        updated_at: new Date('2026-01-01T00:01:00Z'),
        source_version: 2,
      },
    });
  });

  it('an unknown status is stored as received with group UNKNOWN and statusUnknown', () => {
    const decoded = kafka(
      ORDER,
      '{"order_id":"o","status":"on_hold","amount":"1","event_time":"2026-01-01T00:00:00Z"}',
    );
    expect(orderOf(decoded)).toMatchObject({
      status: 'on_hold',
      status_group: 'UNKNOWN',
      payer_wallet_id: null,
      payee_wallet_id: null,
    });
    expect(decoded.ok && decoded.stream === 'order' && decoded.statusUnknown).toBe(true);
    expect(decoded.ok && decoded.versionMissing).toBe(true);
  });

  it.each([
    'PaymentOrderUpserted',
    'payment.order.upserted',
    'PAYMENT_ORDER_UPSERTED',
    'payment_order_upserted',
    'payment-order-upserted',
  ])('decodes an envelope with event_type %s', (eventType) => {
    const payload = { order_id: 'o-e', status: 'CANCELED', amount: 3, event_time: '2026-01-01T00:00:00Z' };
    expect(orderOf(kafka(ORDER, JSON.stringify({ event_type: eventType, payload })))).toMatchObject({
      order_id: 'o-e',
      status_group: 'CANCELLED',
      amount: '3',
    });
  });
});

describe('oltp-legacy-v0', () => {
  it('decodes a { type, data } envelope with camelCase fields', () => {
    const text =
      '{"type":"LEDGER_ENTRY_UPSERTED","data":{"txId":"tx-L","walletId":"w-L","entryType":"RECEIVE","amount":99.90,' +
      '"relatedId":"ord-L","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:01Z","version":7}}';
    expect(entryOf(decodeKafkaMessage(legacy, 'oltp.ledger_entries', Buffer.from(text)))).toEqual({
      tx_id: 'tx-L',
      wallet_id: 'w-L',
      entry_type: 'RECEIVE',
      amount: '99.90',
      currency: null,
      related_id: 'ord-L',
      related_type: 'PAYMENT_ORDER',
      event_time: new Date('2026-01-01T00:00:00Z'),
      updated_at: new Date('2026-01-01T00:00:01Z'),
      source_version: 7,
    });
  });

  it('decodes a flat legacy order with created_at and sourceVersion', () => {
    const text =
      '{"orderId":"ord-L","status":"PENDING","amount":"10","payerWalletId":"w-1","payeeWalletId":"w-2",' +
      '"created_at":"2026-01-01T00:00:00+00:00","sourceVersion":"3"}';
    expect(orderOf(decodeKafkaMessage(legacy, 'oltp.payment_orders', Buffer.from(text)))).toMatchObject({
      order_id: 'ord-L',
      status_group: 'IN_PROGRESS',
      payer_wallet_id: 'w-1',
      payee_wallet_id: 'w-2',
      event_time: new Date('2026-01-01T00:00:00Z'),
      source_version: 3,
    });
  });

  it('also accepts the canonical snake_case shape and { event_type, payload } envelope', () => {
    const payload = { order_id: 'o', status: 'PAID', amount: '1', event_time: '2026-01-01T00:00:00Z' };
    expect(
      orderOf(
        decodeKafkaMessage(
          legacy,
          'oltp.payment_orders',
          Buffer.from(JSON.stringify({ event_type: 'PaymentOrderUpserted', payload })),
        ),
      ),
    ).toMatchObject({ order_id: 'o' });
    expect(
      orderOf(
        decodeKafkaMessage(
          legacy,
          'oltp.payment_orders',
          Buffer.from(JSON.stringify({ type: 'oltp.payment_orders', data: payload })),
        ),
      ),
    ).toMatchObject({ order_id: 'o' });
  });

  it('a flat legacy record with a business "type" field is not mistaken for an envelope', () => {
    const text =
      '{"txId":"t","walletId":"w","entryType":"PAYMENT","type":"CARD","amount":1,"createdAt":"2026-01-01T00:00:00Z"}';
    expect(entryOf(decodeKafkaMessage(legacy, 'oltp.ledger_entries', Buffer.from(text))).tx_id).toBe('t');
  });
});

describe('decodeDumpLine', () => {
  it('infers the stream from the fields of a flat line', () => {
    expect(
      entryOf(
        decodeDumpLine(
          canonical,
          '{"tx_id":"t","wallet_id":"w","entry_type":"P","amount":1,"event_time":"2026-01-01T00:00:00Z"}',
        ),
      ).tx_id,
    ).toBe('t');
    expect(
      orderOf(
        decodeDumpLine(
          canonical,
          '{"order_id":"o","status":"PAID","amount":1,"event_time":"2026-01-01T00:00:00Z"}\n',
        ),
      ).order_id,
    ).toBe('o');
  });

  it('a line with tx_id is a ledger entry even if it also carries an order_id', () => {
    expect(
      entryOf(
        decodeDumpLine(
          canonical,
          '{"tx_id":"t","order_id":"o","wallet_id":"w","entry_type":"P","amount":1,"event_time":"2026-01-01T00:00:00Z"}',
        ),
      ).tx_id,
    ).toBe('t');
  });

  it('takes the stream from the envelope event type', () => {
    const line = JSON.stringify({
      event_type: 'PaymentOrderUpserted',
      payload: { order_id: 'o', status: 'FAILED', amount: '2.5', event_time: '2026-01-01T00:00:00Z' },
    });
    expect(orderOf(decodeDumpLine(canonical, Buffer.from(line))).status_group).toBe('FAILED');
  });

  it('decodes legacy lines with aliases and keeps number amounts exact', () => {
    const line =
      '{"type":"LEDGER_ENTRY_UPSERTED","data":{"txId":"t","walletId":"w","entryType":"PAYMENT","amount":12345678901234567890.123,"createdAt":"2026-01-01T00:00:00Z"}}';
    expect(entryOf(decodeDumpLine(legacy, line)).amount).toBe('12345678901234567890.123');
    expect(
      entryOf(
        decodeDumpLine(
          legacy,
          '{"txId":"t2","walletId":"w","entryType":"P","amount":"1","createdAt":"2026-01-01T00:00:00Z"}',
        ),
      ).tx_id,
    ).toBe('t2');
  });
});

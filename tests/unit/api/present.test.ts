import { describe, expect, it } from 'vitest';
import { dataLagSec, ledgerEntryView, orderMissing, pairingOf, paymentOrderView } from '../../../api/present';
import type { LedgerEntryRow, PaymentOrderRow } from '../../../db/lookups';

function row(over: Partial<LedgerEntryRow> = {}): LedgerEntryRow {
  return {
    tx_id: 'tx-1',
    wallet_id: 'w-1',
    entry_type: 'PAYMENT',
    amount: '1500.00',
    currency: 'KRW',
    related_id: 'ord-1',
    related_type: 'PAYMENT_ORDER',
    event_time: new Date('2026-02-24T10:00:00.000Z'),
    updated_at: null,
    source_version: 3,
    ingested_at: new Date('2026-02-24T10:00:00.420Z'),
    order_status: 'SETTLED',
    order_status_group: 'SUCCESS',
    pair_status: 'COMPLETE',
    pair_payment_tx_id: 'tx-1',
    pair_receive_tx_id: 'tx-2',
    ...over,
  };
}

describe('ledgerEntryView', () => {
  it('produces exactly the SPEC §4.2 example', () => {
    expect(ledgerEntryView(row())).toEqual({
      tx_id: 'tx-1',
      wallet_id: 'w-1',
      entry_type: 'PAYMENT',
      amount: '1500.00',
      currency: 'KRW',
      event_time: '2026-02-24T10:00:00.000Z',
      updated_at: null,
      source_version: 3,
      ingested_at: '2026-02-24T10:00:00.420Z',
      related_id: 'ord-1',
      related_type: 'PAYMENT_ORDER',
      status: 'SETTLED',
      status_group: 'SUCCESS',
      pairing_status: 'COMPLETE',
      paired_tx_id: 'tx-2',
      data_lag_sec: 0.42,
    });
  });

  it('has null status / UNKNOWN group without an order, and a numeric source_version from text', () => {
    const v = ledgerEntryView(row({ order_status: null, order_status_group: null, source_version: '42' }));
    expect(v.status).toBeNull();
    expect(v.status_group).toBe('UNKNOWN');
    expect(v.source_version).toBe(42);
  });
});

describe('pairingOf', () => {
  it('is UNKNOWN for entries that cannot pair', () => {
    expect(pairingOf(row({ related_id: null })).pairing_status).toBe('UNKNOWN');
    expect(pairingOf(row({ related_type: 'REFUND' })).pairing_status).toBe('UNKNOWN');
    expect(pairingOf(row({ entry_type: 'ADJUSTMENT' }))).toEqual({
      pairing_status: 'UNKNOWN',
      paired_tx_id: null,
    });
  });
  it('is INCOMPLETE without a pair row and for a conflicting entry not held by the pair', () => {
    expect(pairingOf(row({ pair_status: null, pair_payment_tx_id: null, pair_receive_tx_id: null }))).toEqual(
      {
        pairing_status: 'INCOMPLETE',
        paired_tx_id: null,
      },
    );
    expect(pairingOf(row({ tx_id: 'tx-3' }))).toEqual({ pairing_status: 'INCOMPLETE', paired_tx_id: null });
  });
  it('gives the opposite side for both PAYMENT and RECEIVE', () => {
    expect(pairingOf(row())).toEqual({ pairing_status: 'COMPLETE', paired_tx_id: 'tx-2' });
    expect(pairingOf(row({ tx_id: 'tx-2', entry_type: 'RECEIVE' }))).toEqual({
      pairing_status: 'COMPLETE',
      paired_tx_id: 'tx-1',
    });
    expect(pairingOf(row({ pair_status: 'INCOMPLETE', pair_receive_tx_id: null }))).toEqual({
      pairing_status: 'INCOMPLETE',
      paired_tx_id: null,
    });
  });
});

describe('dataLagSec', () => {
  it('is ingested_at - event_time in seconds with ms precision, never negative', () => {
    expect(dataLagSec(new Date(0), new Date(1234))).toBe(1.234);
    expect(dataLagSec(new Date(5000), new Date(1000))).toBe(0);
  });
});

describe('paymentOrderView', () => {
  const order: PaymentOrderRow = {
    order_id: 'ord-1',
    status: 'SETTLED',
    status_group: 'SUCCESS',
    amount: '1500.00',
    currency: 'KRW',
    payer_wallet_id: 'w-1234567889',
    payee_wallet_id: null,
    event_time: new Date('2026-02-24T10:00:00Z'),
    updated_at: null,
    source_version: null,
    ingested_at: new Date('2026-02-24T10:00:01Z'),
    entries: [row()],
    pair: null,
  };
  it('masks payer/payee unless ADMIN_AUDIT', () => {
    expect(paymentOrderView(order, ['ADMIN_READ']).payer_wallet_id).toBe('w-12****89');
    expect(paymentOrderView(order, ['ADMIN_READ']).payee_wallet_id).toBeNull();
    expect(paymentOrderView(order, ['ADMIN_AUDIT']).payer_wallet_id).toBe('w-1234567889');
  });
});

describe('orderMissing', () => {
  it('is true only for a PAYMENT_ORDER relation without an order row', () => {
    expect(orderMissing(row({ order_status: null, order_status_group: null }))).toBe(true);
    expect(orderMissing(row({ order_status: 'SETTLED' }))).toBe(false);
    expect(orderMissing(row({ related_type: 'TRANSFER', order_status: null }))).toBe(false);
    expect(orderMissing(row({ related_id: null, related_type: 'UNKNOWN', order_status: null }))).toBe(false);
  });
});

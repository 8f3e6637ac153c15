// DB rows -> response shapes of SPEC §4.2. Pure functions (unit-tested).
import type { LedgerEntryRow, PairRow, PaymentOrderRow } from '../db/lookups';
import { walletIdFor } from './mask';
import type { LedgerEntryView, PairView, PaymentOrderView } from './schemas';

const STATUS_GROUPS = new Set(['IN_PROGRESS', 'SUCCESS', 'FAILED', 'CANCELLED', 'REFUNDED', 'UNKNOWN']);

type PairingStatus = LedgerEntryView['pairing_status'];
type StatusGroup = LedgerEntryView['status_group'];

export function iso(d: Date): string {
  return d.toISOString();
}

function isoOrNull(d: Date | null): string | null {
  return d === null ? null : d.toISOString();
}

function versionNumber(v: number | string | null): number | null {
  return v === null ? null : Number(v);
}

/** max(0, ingested_at - event_time) in seconds, millisecond precision. */
export function dataLagSec(eventTime: Date, ingestedAt: Date): number {
  const ms = ingestedAt.getTime() - eventTime.getTime();
  return ms > 0 ? ms / 1000 : 0;
}

/** Whether an entry can take part in pairing at all (SPEC §2). */
export function isPairable(e: Pick<LedgerEntryRow, 'related_id' | 'related_type' | 'entry_type'>): boolean {
  return (
    e.related_id !== null &&
    e.related_type === 'PAYMENT_ORDER' &&
    (e.entry_type === 'PAYMENT' || e.entry_type === 'RECEIVE')
  );
}

/**
 * Pairing of one entry: UNKNOWN when it cannot pair; INCOMPLETE while no pair row records it; otherwise
 * the pair's status and the opposite side's tx id. An entry the pair row does not hold in its slot (a
 * conflicting second PAYMENT or RECEIVE) is not paired with anything: INCOMPLETE, no partner.
 */
export function pairingOf(
  e: Pick<
    LedgerEntryRow,
    | 'tx_id'
    | 'related_id'
    | 'related_type'
    | 'entry_type'
    | 'pair_status'
    | 'pair_payment_tx_id'
    | 'pair_receive_tx_id'
  >,
): { pairing_status: PairingStatus; paired_tx_id: string | null } {
  if (!isPairable(e)) return { pairing_status: 'UNKNOWN', paired_tx_id: null };
  if (e.pair_status === null) return { pairing_status: 'INCOMPLETE', paired_tx_id: null };
  const ownSlot = e.entry_type === 'PAYMENT' ? e.pair_payment_tx_id : e.pair_receive_tx_id;
  if (ownSlot !== e.tx_id) return { pairing_status: 'INCOMPLETE', paired_tx_id: null };
  const status: PairingStatus = e.pair_status === 'COMPLETE' ? 'COMPLETE' : 'INCOMPLETE';
  return {
    pairing_status: status,
    paired_tx_id: e.entry_type === 'PAYMENT' ? e.pair_receive_tx_id : e.pair_payment_tx_id,
  };
}

function statusGroup(g: string | null): StatusGroup {
  return g !== null && STATUS_GROUPS.has(g) ? (g as StatusGroup) : 'UNKNOWN';
}

export function ledgerEntryView(e: LedgerEntryRow): LedgerEntryView {
  return {
    tx_id: e.tx_id,
    wallet_id: e.wallet_id,
    entry_type: e.entry_type,
    amount: e.amount,
    currency: e.currency,
    event_time: iso(e.event_time),
    updated_at: isoOrNull(e.updated_at),
    source_version: versionNumber(e.source_version),
    ingested_at: iso(e.ingested_at),
    related_id: e.related_id,
    related_type: e.related_type,
    status: e.order_status,
    status_group: statusGroup(e.order_status_group),
    ...pairingOf(e),
    data_lag_sec: dataLagSec(e.event_time, e.ingested_at),
  };
}

/** An entry that names a payment order the DB has no row for (SPEC 1.3: status_group UNKNOWN, counted). */
export function orderMissing(e: LedgerEntryRow): boolean {
  return e.related_type === 'PAYMENT_ORDER' && e.related_id !== null && e.order_status === null;
}

export function pairView(p: PairRow): PairView {
  return {
    related_id: p.related_id,
    payment_tx_id: p.payment_tx_id,
    receive_tx_id: p.receive_tx_id,
    pairing_status: p.pairing_status === 'COMPLETE' ? 'COMPLETE' : 'INCOMPLETE',
    first_seen_at: iso(p.first_seen_at),
    completed_at: isoOrNull(p.completed_at),
    conflict_count: p.conflict_count,
    conflict_tx_ids: p.conflict_tx_ids,
  };
}

/** The order with its entries and pair; payer/payee wallet ids masked unless `roles` allow them. */
export function paymentOrderView(o: PaymentOrderRow, roles: readonly string[]): PaymentOrderView {
  return {
    order_id: o.order_id,
    status: o.status,
    status_group: statusGroup(o.status_group),
    amount: o.amount,
    currency: o.currency,
    payer_wallet_id: walletIdFor(roles, o.payer_wallet_id),
    payee_wallet_id: walletIdFor(roles, o.payee_wallet_id),
    event_time: iso(o.event_time),
    updated_at: isoOrNull(o.updated_at),
    source_version: versionNumber(o.source_version),
    ingested_at: iso(o.ingested_at),
    entries: o.entries.map(ledgerEntryView),
    pair: o.pair && pairView(o.pair),
  };
}

// Versioned table of event profiles (SPEC §1.1). EVENT_PROFILE_ID picks one; an unknown id is a
// startup error. To support a new upstream, add an entry here — the decoder is table-driven.
import type { EventProfile, StreamKind } from './types';

/** Envelope event types every profile accepts (SPEC §1.1 envelope `{ event_type, payload }`). */
const CANONICAL_EVENT_TYPES: Record<StreamKind, readonly string[]> = {
  ledger: ['LedgerEntryUpserted', 'ledger.entry.upserted'],
  order: ['PaymentOrderUpserted', 'payment.order.upserted'],
};

const canonicalV1: EventProfile = {
  id: 'canonical-v1',
  version: 1,
  description: 'Canonical contract: snake_case fields, flat payload or { event_type, payload } envelope.',
  topics: { ledger: 'ledger.entry.upserted', order: 'payment.order.upserted' },
  eventTypes: CANONICAL_EVENT_TYPES,
  envelopes: [{ typeKey: 'event_type', payloadKey: 'payload' }],
  fieldAliases: {
    ledger: { source_version: ['version'] },
    order: { source_version: ['version'] },
  },
};

const oltpLegacyV0: EventProfile = {
  id: 'oltp-legacy-v0',
  version: 0,
  description:
    'Legacy OLTP publisher: oltp.* topics, camelCase fields, createdAt/created_at as event_time, ' +
    '{ type, data } envelope. Everything canonical-v1 accepts is accepted too.',
  topics: { ledger: 'oltp.ledger_entries', order: 'oltp.payment_orders' },
  eventTypes: {
    ledger: [...CANONICAL_EVENT_TYPES.ledger, 'LEDGER_ENTRY_UPSERTED', 'oltp.ledger_entries'],
    order: [...CANONICAL_EVENT_TYPES.order, 'PAYMENT_ORDER_UPSERTED', 'oltp.payment_orders'],
  },
  envelopes: [
    { typeKey: 'event_type', payloadKey: 'payload' },
    { typeKey: 'type', payloadKey: 'data' },
  ],
  fieldAliases: {
    ledger: {
      tx_id: ['txId'],
      wallet_id: ['walletId'],
      entry_type: ['entryType'],
      related_id: ['relatedId'],
      related_type: ['relatedType'],
      event_time: ['createdAt', 'created_at', 'eventTime'],
      updated_at: ['updatedAt'],
      source_version: ['version', 'sourceVersion'],
    },
    order: {
      order_id: ['orderId'],
      payer_wallet_id: ['payerWalletId'],
      payee_wallet_id: ['payeeWalletId'],
      event_time: ['createdAt', 'created_at', 'eventTime'],
      updated_at: ['updatedAt'],
      source_version: ['version', 'sourceVersion'],
    },
  },
};

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

export const PROFILES: Readonly<Record<string, EventProfile>> = deepFreeze({
  [canonicalV1.id]: canonicalV1,
  [oltpLegacyV0.id]: oltpLegacyV0,
});

/** The profile with this id; throws an Error naming the known ids otherwise. */
export function getProfile(id: string): EventProfile {
  const profile = Object.hasOwn(PROFILES, id) ? PROFILES[id] : undefined;
  if (!profile) {
    throw new Error(
      `unknown event profile id ${JSON.stringify(id)}; known ids: ${Object.keys(PROFILES).join(', ')}`,
    );
  }
  return profile;
}

/** The logical stream a topic carries under this profile, or null if the profile has no such topic. */
export function streamForTopic(profile: EventProfile, topic: string): StreamKind | null {
  if (topic === profile.topics.ledger) return 'ledger';
  if (topic === profile.topics.order) return 'order';
  return null;
}

/** The stream an envelope event type names under this profile, or null if it is not an accepted type. */
export function streamForEventType(profile: EventProfile, eventType: string): StreamKind | null {
  if (profile.eventTypes.ledger.includes(eventType)) return 'ledger';
  if (profile.eventTypes.order.includes(eventType)) return 'order';
  return null;
}

// Versioned table of event profiles (SPEC §1.1). EVENT_PROFILE_ID picks one; an unknown id is a
// startup error. To support a new upstream, add an entry here — the decoder is table-driven.
import type { EventProfile, StreamKind } from './types';

/**
 * Envelope event types every profile accepts (SPEC §1.1 envelope `{ event_type, payload }`), in their
 * documented spellings; streamForEventType also accepts them in any case and with any of the `.`/`_`/`-`
 * separators (`LEDGER_ENTRY_UPSERTED`, `ledger_entry_upserted`, ...).
 */
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

/**
 * The comparison form of an envelope event type: lowercase, without the `.`, `_` and `-` separators, so
 * `LedgerEntryUpserted`, `ledger.entry.upserted`, `LEDGER_ENTRY_UPSERTED` and `ledger-entry-upserted` are one
 * type. Anything else (other letters, spaces, other punctuation) still tells types apart.
 */
export function normalizeEventType(eventType: string): string {
  return eventType.replace(/[._-]/g, '').toLowerCase();
}

// Longer than any accepted type: not normalised at all (a huge bogus type costs nothing).
const MAX_EVENT_TYPE_LENGTH = 256;
const eventTypeIndex = new WeakMap<EventProfile, ReadonlyMap<string, StreamKind>>();

function eventTypesOf(profile: EventProfile): ReadonlyMap<string, StreamKind> {
  let index = eventTypeIndex.get(profile);
  if (!index) {
    const built = new Map<string, StreamKind>();
    for (const stream of ['ledger', 'order'] as const) {
      for (const t of profile.eventTypes[stream]) {
        const key = normalizeEventType(t);
        const other = built.get(key);
        if (other && other !== stream) {
          throw new Error(
            `profile ${profile.id}: event type ${JSON.stringify(t)} names both the ${other} and the ${stream} stream`,
          );
        }
        built.set(key, stream);
      }
    }
    index = built;
    eventTypeIndex.set(profile, index);
  }
  return index;
}

/**
 * The stream an envelope event type names under this profile, or null if it is not an accepted type.
 * Matching ignores case and the `.`/`_`/`-` separators (see normalizeEventType).
 */
export function streamForEventType(profile: EventProfile, eventType: string): StreamKind | null {
  if (eventType.length > MAX_EVENT_TYPE_LENGTH) return null;
  return eventTypesOf(profile).get(normalizeEventType(eventType)) ?? null;
}

// A profile whose event types collide across streams once normalised is a startup error, not a decode-time one.
for (const profile of Object.values(PROFILES)) eventTypesOf(profile);

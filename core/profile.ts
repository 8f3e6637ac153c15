// The event profile a process runs with: EVENT_PROFILE_ID, with optional per-deployment topic overrides.
import { getProfile, type EventProfile } from '../contract';
import type { Env } from './env';

export function profileFromEnv(
  e: Pick<Env, 'EVENT_PROFILE_ID' | 'KAFKA_TOPIC_LEDGER' | 'KAFKA_TOPIC_ORDER'>,
): EventProfile {
  const base = getProfile(e.EVENT_PROFILE_ID); // throws, naming the known ids, for an unknown profile
  if (!e.KAFKA_TOPIC_LEDGER && !e.KAFKA_TOPIC_ORDER) return base;
  return {
    ...base,
    topics: {
      ledger: e.KAFKA_TOPIC_LEDGER ?? base.topics.ledger,
      order: e.KAFKA_TOPIC_ORDER ?? base.topics.order,
    },
  };
}

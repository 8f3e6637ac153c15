// Public API of the event contract: raw Kafka values / dump lines -> normalised rows or a DLQ reason.
// Used by the sync consumer, the backfill and the DLQ replay; isValidId also by the Admin API.
export type {
  StreamKind,
  DlqReason,
  StatusGroup,
  LedgerEntry,
  PaymentOrder,
  Decoded,
  EventProfile,
  EnvelopeShape,
} from './types';
export { PROFILES, getProfile, streamForTopic, streamForEventType, normalizeEventType } from './profiles';
export { statusGroupOf, STATUS_GROUPS_V2, STATUS_SET_VERSION } from './status';
export {
  isValidId,
  charLength,
  textKeyProblem,
  canonicalDecimal,
  parseTimestamp,
  formatTimestamp,
  parseSourceVersion,
  ID_PATTERN,
  MAX_ID_LENGTH,
  MAX_WALLET_ID_LENGTH,
  MAX_RELATED_ID_LENGTH,
  MAX_AMOUNT_INTEGER_DIGITS,
  MAX_AMOUNT_FRACTION_DIGITS,
} from './values';
export { decodeKafkaMessage, decodeDumpLine, MAX_VALUE_BYTES, MAX_DETAIL_CHARS } from './normalize';

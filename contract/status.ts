// Frozen status -> status_group mapping, status set v2 (SPEC §1.3). Changing it is a contract
// change (new status set version), not an edit: stored rows carry the group derived at ingest.
import type { StatusGroup } from './types';

export const STATUS_SET_VERSION = 2;

export const STATUS_GROUPS_V2: Readonly<Record<Exclude<StatusGroup, 'UNKNOWN'>, readonly string[]>> =
  Object.freeze({
    IN_PROGRESS: Object.freeze(['CREATED', 'PENDING', 'PROCESSING', 'AUTHORIZED']),
    SUCCESS: Object.freeze(['COMPLETED', 'SETTLED', 'PAID']),
    FAILED: Object.freeze(['FAILED', 'DECLINED', 'EXPIRED']),
    CANCELLED: Object.freeze(['CANCELLED', 'CANCELED']),
    REFUNDED: Object.freeze(['REFUNDED', 'PARTIALLY_REFUNDED']),
  });

const groupByStatus: ReadonlyMap<string, StatusGroup> = new Map(
  (Object.entries(STATUS_GROUPS_V2) as [StatusGroup, readonly string[]][]).flatMap(([group, statuses]) =>
    statuses.map((status) => [status, group] as const),
  ),
);

/**
 * Group of a raw source status. Exact, case-sensitive match against the frozen table: the status is
 * stored as received, so 'completed' is not 'COMPLETED' and maps to UNKNOWN (and is counted).
 */
export function statusGroupOf(status: string): StatusGroup {
  return groupByStatus.get(status) ?? 'UNKNOWN';
}

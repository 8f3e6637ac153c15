// The canonical form of an API payload that the rehearsal's idempotency step hashes.

/** Fields the idempotency hash ignores (SPEC §6): they legitimately change on replay. */
const VOLATILE_FIELDS = new Set(['event_time', 'data_lag_sec', 'ingested_at']);

/** JSON with sorted keys and volatile fields removed: equal payloads hash equal. */
export function canonicalPayload(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalPayload).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value as Record<string, unknown>)
      .filter((k) => !VOLATILE_FIELDS.has(k))
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalPayload((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

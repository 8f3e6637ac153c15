// Table-driven malformed corpus: each message must land on its DLQ reason with a short detail
// that names the offending field, and must never pollute Object.prototype.
import { afterAll, describe, expect, it } from 'vitest';
import { decodeDumpLine, decodeKafkaMessage, getProfile, MAX_DETAIL_CHARS } from '../../../contract/index';
import type { DlqReason } from '../../../contract/index';
import { LEDGER_TOPIC, MALFORMED } from './corpus/malformed';

function decodeCase(c: (typeof MALFORMED)[number]) {
  const profile = getProfile(c.profile ?? 'canonical-v1');
  if (c.via === 'dump') return decodeDumpLine(profile, c.value ?? '');
  const value = typeof c.value === 'string' ? Buffer.from(c.value, 'utf8') : c.value;
  return decodeKafkaMessage(profile, c.topic ?? LEDGER_TOPIC, value);
}

describe('malformed corpus', () => {
  it('is large and covers every decoder reason', () => {
    expect(MALFORMED.length).toBeGreaterThanOrEqual(60);
    const reasons = new Set(MALFORMED.map((c) => c.reason));
    const decoderReasons: DlqReason[] = [
      'INVALID_JSON',
      'SCHEMA_VIOLATION',
      'UNMAPPED_TOPIC',
      'UNKNOWN_EVENT_TYPE',
    ];
    for (const reason of decoderReasons) expect(reasons).toContain(reason);
    expect(new Set(MALFORMED.map((c) => c.name)).size).toBe(MALFORMED.length);
  });

  it.each(MALFORMED.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const decoded = decodeCase(c);
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect({ reason: decoded.reason, detail: decoded.detail }).toMatchObject({ reason: c.reason });
    expect(decoded.detail.length).toBeGreaterThan(0);
    expect(decoded.detail.length).toBeLessThanOrEqual(MAX_DETAIL_CHARS);
    if (c.detail) expect(decoded.detail).toContain(c.detail);
    // Storable in a PostgreSQL text column.
    // eslint-disable-next-line no-control-regex -- asserting the absence of control characters
    expect(decoded.detail).not.toMatch(/[\u0000-\u001f]/);
    // Never echo a long run of the input back.
    expect(decoded.detail).not.toMatch(/(.)\1{60}/);
  });

  afterAll(() => {
    const probe: Record<string, unknown> = {};
    expect(probe.polluted).toBeUndefined();
    expect(probe.tx_id).toBeUndefined();
    expect(probe.payload).toBeUndefined();
    expect(Object.getPrototypeOf(probe)).toBe(Object.prototype);
  });
});

describe('prototype-pollution keys', () => {
  it('a __proto__ field next to valid core fields is ignored and pollutes nothing', () => {
    const value = Buffer.from(
      '{"tx_id":"tx-p","wallet_id":"w","entry_type":"PAYMENT","amount":"1","event_time":"2026-01-01T00:00:00Z",' +
        '"__proto__":{"polluted":"yes","related_id":"evil"},"constructor":{"prototype":{"polluted":"yes"}}}',
    );
    const decoded = decodeKafkaMessage(getProfile('canonical-v1'), LEDGER_TOPIC, value);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok || decoded.stream !== 'ledger') return;
    expect(decoded.entry.related_id).toBeNull();
    expect(Object.getPrototypeOf(decoded.entry)).toBe(Object.prototype);
    expect(Object.keys(decoded.entry).sort()).toEqual([
      'amount',
      'currency',
      'entry_type',
      'event_time',
      'related_id',
      'related_type',
      'source_version',
      'tx_id',
      'updated_at',
      'wallet_id',
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

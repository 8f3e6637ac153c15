import { describe, expect, it } from 'vitest';
import { decodeDumpLine, decodeKafkaMessage, getProfile } from '../../../contract';
import {
  TokenBucket,
  encodeForProfile,
  expectedFinalState,
  formatTimestamp,
  generatePayments,
  incomingWins,
  mulberry32,
  type SynthEvent,
  type SynthOptions,
} from '../../../sync/synth';

const canonical = getProfile('canonical-v1');
const legacy = getProfile('oltp-legacy-v0');

function opts(over: Partial<SynthOptions> = {}): SynthOptions {
  return {
    payments: 200,
    seed: 42,
    idPrefix: 'u-',
    startTime: new Date('2026-02-01T00:00:00Z'),
    spanSec: 600,
    dupRate: 0.1,
    oooRate: 0.2,
    missingVersionRate: 0.05,
    orphanRate: 0.05,
    malformedRate: 0.05,
    profile: canonical,
    ...over,
  };
}

describe('mulberry32', () => {
  it('is deterministic by seed and uniform enough', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    expect(mulberry32(8)()).not.toBe(mulberry32(7)());
  });
});

describe('generatePayments', () => {
  it('is deterministic: the same seed yields the same bytes, another seed does not', () => {
    const key = (evs: SynthEvent[]) => evs.map((e) => `${e.key}|${e.value.toString('base64')}`);
    const one = [...generatePayments(opts())];
    expect(key([...generatePayments(opts())])).toEqual(key(one));
    expect(key([...generatePayments(opts({ seed: 43 }))])).not.toEqual(key(one));
  });

  it('malformed events are exactly the ones the contract rejects; the others decode under the profile', () => {
    for (const profile of [canonical, legacy]) {
      const events = [...generatePayments(opts({ profile, malformedRate: 0.2 }))];
      expect(events.filter((e) => e.malformed).length).toBeGreaterThan(10);
      for (const e of events) {
        const viaTopic = decodeKafkaMessage(profile, profile.topics[e.stream], e.value);
        const viaDump = decodeDumpLine(profile, e.value);
        expect(viaTopic.ok, `${e.key}: ${e.value.toString()}`).toBe(!e.malformed);
        expect(viaDump.ok).toBe(!e.malformed);
        if (viaTopic.ok) {
          expect(viaTopic.stream).toBe(e.stream);
          expect(viaTopic.stream === 'ledger' ? viaTopic.entry.tx_id : viaTopic.order.order_id).toBe(e.key);
        }
      }
    }
  });

  it('duplicates re-emit identical bytes; rates of zero produce a clean in-order stream', () => {
    const events = [...generatePayments(opts({ dupRate: 0.3 }))];
    const originals = new Set(events.filter((e) => !e.duplicate).map((e) => e.value.toString('base64')));
    const dups = events.filter((e) => e.duplicate);
    expect(dups.length).toBeGreaterThan(50);
    expect(dups.every((d) => originals.has(d.value.toString('base64')))).toBe(true);

    const clean = [
      ...generatePayments(
        opts({ dupRate: 0, oooRate: 0, missingVersionRate: 0, orphanRate: 0, malformedRate: 0 }),
      ),
    ];
    expect(clean.some((e) => e.duplicate || e.malformed)).toBe(false);
    const state = expectedFinalState(clean, canonical);
    // Without orphans every settled order has a COMPLETE pair, and the last order version is the final one.
    expect([...state.pairs.values()].every((p) => p.pairing_status === 'COMPLETE')).toBe(true);
    expect(state.pairs.size).toBeGreaterThan(70); // about half of the payments settle
    expect([...state.orders.values()].every((o) => o.status !== 'CREATED' && o.status !== 'PENDING')).toBe(
      true,
    );
  });

  it('orphans leave INCOMPLETE pairs; out-of-order + missing versions still give a deterministic oracle', () => {
    const events = [...generatePayments(opts({ orphanRate: 0.5 }))];
    const state = expectedFinalState(events, canonical);
    expect([...state.pairs.values()].filter((p) => p.pairing_status === 'INCOMPLETE').length).toBeGreaterThan(
      20,
    );
    expect(state.dlq).toBe(events.filter((e) => e.malformed).length);
    expect(expectedFinalState(events, canonical)).toEqual(state);
  });

  it('the until filter of the oracle skips rows at or after until', () => {
    const events = [...generatePayments(opts())];
    const until = new Date('2026-02-01T00:05:00Z');
    const state = expectedFinalState(events, canonical, { until });
    expect(state.skippedAfterUntil).toBeGreaterThan(0);
    expect([...state.orders.values()].every((o) => o.event_time < until)).toBe(true);
    expect([...state.ledger.values()].every((e) => e.event_time < until)).toBe(true);
  });
});

describe('incomingWins (SPEC §2 oracle)', () => {
  const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  const v = (u: number | null, sv: number | null) => ({
    updated_at: u === null ? null : t(u),
    source_version: sv,
  });
  it.each([
    ['newer updated_at wins', v(1, null), v(2, null), true],
    ['older updated_at loses', v(2, null), v(1, null), false],
    ['equal updated_at is a no-op', v(2, 1), v(2, 9), false],
    ['updated_at beats source_version', v(5, 1), v(4, 9), false],
    ['newer source_version wins', v(null, 1), v(null, 2), true],
    ['older source_version loses', v(null, 3), v(null, 2), false],
    ['equal source_version is a no-op', v(null, 3), v(null, 3), false],
    ['no common version: later arrival wins', v(9, null), v(null, 1), true],
    ['missing versions: later arrival wins', v(9, 9), v(null, null), true],
  ])('%s', (_name, current, incoming, wins) => {
    expect(incomingWins(current, incoming)).toBe(wins);
  });
});

describe('encoding helpers', () => {
  it('formatTimestamp renders offsets that denote the same instant', () => {
    const d = new Date('2026-02-24T10:00:00.123Z');
    expect(formatTimestamp(d)).toBe('2026-02-24T10:00:00.123Z');
    expect(formatTimestamp(d, 540)).toBe('2026-02-24T19:00:00.123+09:00');
    expect(formatTimestamp(d, -300)).toBe('2026-02-24T05:00:00.123-05:00');
    expect(new Date(formatTimestamp(d, 540)).getTime()).toBe(d.getTime());
  });

  it('encodeForProfile keeps the exact amount text whether quoted or a bare JSON number', () => {
    const rand = mulberry32(1);
    for (let i = 0; i < 50; i++) {
      const buf = encodeForProfile(
        legacy,
        'ledger',
        {
          tx_id: 't-1',
          wallet_id: 'w-1',
          entry_type: 'PAYMENT',
          amount: '1500.10',
          event_time: '2026-02-24T10:00:00Z',
          source_version: 3,
        },
        rand,
      );
      const d = decodeKafkaMessage(legacy, legacy.topics.ledger, buf);
      expect(d.ok && d.stream === 'ledger' && d.entry.amount).toBe('1500.10');
      expect(d.ok && d.stream === 'ledger' && d.entry.source_version).toBe(3);
    }
  });

  it('TokenBucket holds a rate', async () => {
    const bucket = new TokenBucket(1000, 50);
    const t0 = performance.now();
    for (let i = 0; i < 6; i++) await bucket.take(50);
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(200); // 300 tokens, 50 up front, 250 at 1000/s
    expect(ms).toBeLessThan(1500);
  });
});

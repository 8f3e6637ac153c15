import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { getProfile } from '../../../contract';
import { readLineBatches } from '../../../sync/backfill';
import { batchSize, decodeKafkaBatch, splitBatchInput } from '../../../sync/batch';
import { intFlag, rateFlag, timeFlag, UsageError } from '../../../sync/cli-args';
import { backoffMs, classifyApplyError } from '../../../sync/consumer';
import { replayWhere } from '../../../sync/dlq-replay';
import { headersToStrings, isRetriableKafkaError, withTopics } from '../../../sync/kafka';
import { formatDuration, renderBar } from '../../../sync/progress';
import { TransientDbError } from '../../../db/errors';

const profile = withTopics(getProfile('canonical-v1'), { ledger: 'L', order: 'O' });

function msg(offset: number, value: string | Buffer | null, extra: Partial<KafkaMessage> = {}): KafkaMessage {
  return {
    key: Buffer.from(`k${offset}`),
    value: typeof value === 'string' ? Buffer.from(value) : value,
    timestamp: String(1_770_000_000_000 + offset),
    attributes: 0,
    offset: String(offset),
    headers: {},
    size: 0,
    ...extra,
  } as unknown as KafkaMessage;
}

describe('decodeKafkaBatch', () => {
  it('splits a batch into rows and DLQ rows with the message meta, in offset order', () => {
    const good = (id: string, extra = {}) =>
      JSON.stringify({
        order_id: id,
        status: 'WHATEVER',
        amount: '1.00',
        event_time: '2026-02-24T10:00:00Z',
        ...extra,
      });
    const d = decodeKafkaBatch(profile, 'O', 1, [
      msg(10, good('o-1', { source_version: 1 })),
      msg(11, '{"order_id":', { headers: { a: Buffer.from('x'), b: ['1', Buffer.from('2')] } }),
      msg(12, null),
      msg(13, good('o-2')),
    ]);
    expect(d.stream).toBe('order');
    expect(d.input.source).toBe('consumer');
    expect(d.input.orders.map((o) => o.row.order_id)).toEqual(['o-1', 'o-2']);
    expect(d.input.orders[1]!.dlq).toMatchObject({
      topic: 'O',
      partition: 1,
      offset: '13',
      profile_id: 'canonical-v1',
    });
    expect(d.input.dlq.map((r) => [r.offset, r.reason])).toEqual([
      ['11', 'INVALID_JSON'],
      ['12', 'INVALID_JSON'],
    ]);
    expect(d.input.dlq[0]!.headers).toEqual({ a: 'x', b: '1, 2' });
    expect(d.input.dlq[0]!.raw_value?.toString()).toBe('{"order_id":');
    expect(d.input.dlq[1]!.raw_value).toBeNull();
    expect(d.dlqReasons).toEqual(['INVALID_JSON', 'INVALID_JSON']);
    expect(d.versionMissing).toBe(1);
    expect(d.statusUnknown).toBe(2);
    expect(d.recordTimestamps).toHaveLength(4);
    expect(d.eventTimes).toEqual([Date.parse('2026-02-24T10:00:00Z'), Date.parse('2026-02-24T10:00:00Z')]);
  });

  it('an unmapped topic dead-letters everything', () => {
    const d = decodeKafkaBatch(profile, 'elsewhere', 0, [msg(1, '{}')]);
    expect(d.stream).toBeNull();
    expect(d.input.dlq.map((r) => r.reason)).toEqual(['UNMAPPED_TOPIC']);
  });

  it('splitBatchInput halves every part and keeps order', () => {
    const d = decodeKafkaBatch(
      profile,
      'L',
      0,
      [1, 2, 3].map((i) =>
        msg(
          i,
          JSON.stringify({
            tx_id: `t${i}`,
            wallet_id: 'w',
            entry_type: 'PAYMENT',
            amount: '1',
            event_time: '2026-02-24T10:00:00Z',
          }),
        ),
      ),
    );
    const [a, b] = splitBatchInput(d.input);
    expect(a.entries.map((e) => e.row.tx_id)).toEqual(['t1', 't2']);
    expect(b.entries.map((e) => e.row.tx_id)).toEqual(['t3']);
    expect(batchSize(a) + batchSize(b)).toBe(3);
  });
});

describe('consumer helpers', () => {
  it('classifies failures: transient DB/broker errors retry, constraint errors isolate', () => {
    expect(classifyApplyError(new TransientDbError('down'))).toBe('transient');
    expect(classifyApplyError(Object.assign(new Error('broker'), { retriable: true }))).toBe('transient');
    expect(classifyApplyError(Object.assign(new Error('check'), { code: '23514' }))).toBe('deterministic');
    expect(classifyApplyError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe(
      'transient',
    );
    expect(classifyApplyError(new Error('bug'))).toBe('unknown');
  });

  it('backoff grows exponentially and is capped at ~5 s', () => {
    expect(backoffMs(1)).toBeLessThanOrEqual(120);
    expect(backoffMs(4)).toBeGreaterThanOrEqual(640);
    for (let i = 10; i < 40; i++) expect(backoffMs(i)).toBeLessThanOrEqual(6000);
  });

  it('kafka helpers: header strings, retriable errors', () => {
    expect(headersToStrings(undefined)).toBeNull();
    expect(headersToStrings({ x: undefined })).toBeNull();
    expect(headersToStrings({ t: 'a' })).toEqual({ t: 'a' });
    expect(isRetriableKafkaError({ type: 'COORDINATOR_LOAD_IN_PROGRESS' })).toBe(true);
    expect(isRetriableKafkaError({ type: 'TOPIC_AUTHORIZATION_FAILED', retriable: false })).toBe(false);
  });
});

describe('readLineBatches', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-unit-lines-'));
  const lines = async (name: string, content: Buffer, gzip = false, compress = gzip) => {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, compress ? zlib.gzipSync(content) : content);
    const out: { lineNo: number; text: string; oversized: boolean; bytes: Buffer }[] = [];
    let bytes = 0;
    for await (const batch of readLineBatches({ abs: file, rel: name, size: 0, gzip }, (n) => (bytes += n)))
      for (const l of batch) out.push({ ...l, text: l.bytes.toString('latin1') });
    return { out, bytes };
  };

  it('yields raw bytes per line with 1-based numbers, strips CR, keeps a last line without newline', async () => {
    const content = Buffer.concat([
      Buffer.from('a\r\n\nb'),
      Buffer.from([0x0a, 0xff, 0xfe, 0x0a]),
      Buffer.from('last'),
    ]);
    const { out, bytes } = await lines('plain.ndjson', content);
    expect(out.map((l) => [l.lineNo, l.text])).toEqual([
      [1, 'a'],
      [2, ''],
      [3, 'b'],
      [4, '\xff\xfe'],
      [5, 'last'],
    ]);
    expect(out[3]!.bytes.equals(Buffer.from([0xff, 0xfe]))).toBe(true); // invalid UTF-8 reaches the contract intact
    expect(bytes).toBe(content.length);
  });

  it('keeps every line intact across read-chunk boundaries (plain and gzip)', async () => {
    // ~2.6 MB: several 1 MiB file reads and 256 KiB gunzip chunks, so lines straddle both kinds of boundary.
    const want = Array.from({ length: 40_000 }, (_, i) => `${i}:${'x'.repeat((i * 7919) % 97)}`);
    const content = Buffer.from(want.join('\n') + '\n');
    for (const gzip of [false, true]) {
      const { out, bytes } = await lines(gzip ? 'big.ndjson.gz' : 'big.ndjson', content, gzip);
      expect(out.length).toBe(want.length);
      expect(out.every((l, i) => l.lineNo === i + 1 && l.text === want[i] && !l.oversized)).toBe(true);
      if (!gzip) expect(bytes).toBe(content.length);
    }
  });

  it('reads gzip, and reports a corrupt gzip stream as bad input', async () => {
    const { out } = await lines('z.ndjson.gz', Buffer.from('x\ny\n'), true);
    expect(out.map((l) => l.text)).toEqual(['x', 'y']);
    const truncated = zlib.gzipSync(Buffer.from('x\n'.repeat(1000))).subarray(0, 20);
    await expect(lines('bad.ndjson.gz', truncated, true, false)).rejects.toThrow(/not a valid gzip stream/);
  });
});

describe('cli args, progress, replay filters', () => {
  it('parses flags strictly', () => {
    expect(timeFlag('2026-02-24T10:00:00Z', 'until')?.toISOString()).toBe('2026-02-24T10:00:00.000Z');
    expect(timeFlag('2026-02-24T19:00:00+09:00', 'until')?.toISOString()).toBe('2026-02-24T10:00:00.000Z');
    expect(() => timeFlag('2026-02-24T10:00:00', 'until')).toThrow(UsageError);
    expect(() => timeFlag('yesterday', 'until')).toThrow(UsageError);
    expect(rateFlag('0.25', 'dup-rate', 0)).toBe(0.25);
    expect(() => rateFlag('1.5', 'dup-rate', 0)).toThrow(UsageError);
    expect(intFlag(undefined, 'n', 7)).toBe(7);
    expect(() => intFlag('12abc', 'n', 7)).toThrow(UsageError);
    expect(() => intFlag('0', 'n', 7, 1)).toThrow(UsageError);
  });

  it('renders a progress bar with rate and ETA', () => {
    const line = renderBar(
      { done: 50, total: 200, rate: 12345.6, rateUnit: 'lines/s', etaSec: 75, fields: { lines: 1000 } },
      8,
    );
    expect(line).toBe('[##------]  25.0%  lines=1,000  12,346 lines/s  ETA 1m15s');
    expect(formatDuration(null)).toBe('?');
    expect(formatDuration(3725)).toBe('1h02m');
  });

  it('replayWhere parameterises every filter and rejects bad ids / reasons', () => {
    const w = replayWhere({ topic: 't', reason: 'INVALID_JSON', from: new Date(0), ids: ['1', '2'] }, 3);
    expect(w.sql).toBe(' AND topic = $3 AND reason = $4 AND created_at >= $5 AND id = ANY($6::bigint[])');
    expect(w.values).toEqual(['t', 'INVALID_JSON', new Date(0), ['1', '2']]);
    expect(replayWhere({}, 3).sql).toBe('');
    expect(() => replayWhere({ ids: ['1 OR 1=1'] }, 3)).toThrow('not a row id');
    expect(() => replayWhere({ reason: 'NOPE' as never }, 3)).toThrow('unknown DLQ reason');
  });
});

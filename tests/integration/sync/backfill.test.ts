// Backfill against real PostgreSQL: until filter, gz + plain files in a directory, resumable checkpoint
// (abort mid-way, re-run, counts add up), re-runs change nothing, bad lines in the DLQ, bad input errors.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getProfile } from '../../../contract';
import { BackfillInputError, runBackfill, type BackfillProgress } from '../../../sync/backfill';
import { expectedFinalState, generatePayments, writeDump, type SynthEvent } from '../../../sync/synth';
import { dlqRows, expectDbMatches, randomTag, snapshot, testPool } from './support';

const tag = randomTag();
const prefix = `itb-${tag}-`;
const root = path.resolve(import.meta.dirname, '../../..');
let pool: pg.Pool;
let dir: string;

beforeAll(async () => {
  pool = testPool();
  dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'txl-it-backfill-'));
});
afterAll(async () => {
  await pool?.end();
  await fs.promises.rm(dir, { recursive: true, force: true });
});

const start = new Date('2026-01-05T00:00:00Z');
function synth(idPrefix: string, payments: number, profileId = 'canonical-v1'): SynthEvent[] {
  return [
    ...generatePayments({
      payments,
      seed: 21,
      idPrefix,
      startTime: start,
      spanSec: 1000,
      dupRate: 0.1,
      oooRate: 0.2,
      missingVersionRate: 0.05,
      orphanRate: 0.05,
      malformedRate: 0.03,
      profile: getProfile(profileId),
    }),
  ];
}

describe('backfill', () => {
  it('loads event_time < until from a directory of .ndjson.gz + .ndjson, resumes after an abort, and re-runs change nothing', async () => {
    const profile = getProfile('canonical-v1');
    const idPrefix = `${prefix}d-`;
    const events = synth(idPrefix, 800);
    const until = new Date(start.getTime() + 600_000);
    const expected = expectedFinalState(events, profile, { until });
    const dumpDir = path.join(dir, 'dump1');
    await fs.promises.mkdir(dumpDir);
    const cut = Math.floor(events.length * 0.6);
    // Files are read in name order: the .gz one first.
    await writeDump(events.slice(0, cut), path.join(dumpDir, `${tag}-1.ndjson.gz`));
    await writeDump(events.slice(cut), path.join(dumpDir, `${tag}-2.ndjson`));
    fs.appendFileSync(path.join(dumpDir, `${tag}-2.ndjson`), '\n   \n'); // blank lines are ignored
    fs.writeFileSync(path.join(dumpDir, 'README.txt'), 'not a dump file'); // ignored by extension

    // Run 1: abort after the second committed chunk.
    const abort = new AbortController();
    let chunksSeen = 0;
    const run1 = runBackfill({
      dumpPath: dumpDir,
      until,
      profile,
      pool,
      chunkLines: 400,
      signal: abort.signal,
      onProgress: () => {
        chunksSeen += 1;
        if (chunksSeen === 2) abort.abort(new Error('test abort'));
      },
    });
    await expect(run1).rejects.toThrow('test abort');
    const cp = (
      await pool.query('SELECT * FROM bo.backfill_checkpoints WHERE dump_path = $1', [
        await fs.promises.realpath(dumpDir),
      ])
    ).rows[0];
    expect(cp.completed_at).toBeNull();
    expect(Number(cp.rows_read)).toBeGreaterThanOrEqual(800);
    expect(Number(cp.rows_read)).toBeLessThan(events.length);

    // Run 2: resumes after the last committed chunk and finishes.
    const progress: BackfillProgress[] = [];
    const run2 = await runBackfill({
      dumpPath: dumpDir,
      until,
      profile,
      pool,
      chunkLines: 400,
      onProgress: (p) => progress.push(p),
    });
    expect(run2.resumedFrom).toEqual({ file: cp.current_file, line: Number(cp.current_line) });
    expect(run2.linesRead).toBe(events.length);
    expect(run2.run.linesRead).toBe(events.length - Number(cp.rows_read));
    expect(run2.rowsDlq).toBe(expected.dlq);
    expect(run2.rowsSkippedAfterUntil).toBe(expected.skippedAfterUntil);
    expect(run2.rowsApplied + run2.rowsDlq + run2.rowsSkippedAfterUntil).toBe(run2.linesRead);
    expect(run2.files).toEqual([`${tag}-1.ndjson.gz`, `${tag}-2.ndjson`]);
    const last = progress[progress.length - 1]!;
    expect(last.bytesRead).toBe(last.totalBytes);
    expect(last.linesRead).toBe(events.length);
    await expectDbMatches(pool, idPrefix, expected);
    const dlq = await dlqRows(pool, { dumpFilePrefix: `${tag}-` });
    expect(dlq).toHaveLength(expected.dlq);
    expect(
      dlq.every(
        (r) => r.source === 'backfill' && Number(r.dump_line) >= 1 && (r.raw_value as Buffer).length > 0,
      ),
    ).toBe(true);
    // The DLQ row points at the exact dump line.
    const sample = dlq[0]!;
    const fileText = fs.readFileSync(path.resolve(dumpDir, sample.dump_file as string));
    const lines = (sample.dump_file as string).endsWith('.gz')
      ? (await import('node:zlib')).gunzipSync(fileText)
      : fileText;
    const line = lines.toString('latin1').split('\n')[Number(sample.dump_line) - 1]!;
    expect(Buffer.from(line, 'latin1').equals(sample.raw_value as Buffer)).toBe(true);

    // Run 3: the checkpoint is complete -> returns the stored counts without reading.
    const before = await snapshot(pool, idPrefix);
    const run3 = await runBackfill({ dumpPath: dumpDir, until, profile, pool });
    expect(run3.alreadyCompleted).toBe(true);
    expect(run3.run.linesRead).toBe(0);
    expect({ ...run3, run: null, alreadyCompleted: null, resumedFrom: null }).toEqual({
      ...run2,
      run: null,
      alreadyCompleted: null,
      resumedFrom: null,
    });

    // Run 4: --fresh re-reads everything and changes nothing (not even ingested_at).
    const run4 = await runBackfill({
      dumpPath: dumpDir,
      until,
      profile,
      pool,
      fresh: true,
      chunkLines: 10_000,
    });
    expect(run4.run.linesRead).toBe(events.length);
    expect(run4.run.inserted + run4.run.updated).toBe(0);
    expect([run4.linesRead, run4.rowsApplied, run4.rowsDlq, run4.rowsSkippedAfterUntil]).toEqual([
      run2.linesRead,
      run2.rowsApplied,
      run2.rowsDlq,
      run2.rowsSkippedAfterUntil,
    ]);
    expect(await snapshot(pool, idPrefix)).toEqual(before);
    expect(await dlqRows(pool, { dumpFilePrefix: `${tag}-` })).toHaveLength(expected.dlq);
  });

  it('loads a legacy-profile (oltp-legacy-v0) single .ndjson.gz file', async () => {
    const profile = getProfile('oltp-legacy-v0');
    const idPrefix = `${prefix}l-`;
    const events = synth(idPrefix, 150, profile.id);
    expect(events.some((e) => e.value.toString().includes('"data":'))).toBe(true); // camelCase {type, data} shapes
    const until = new Date(start.getTime() + 2_000_000);
    const file = path.join(dir, `${tag}-legacy.ndjson.gz`);
    await writeDump(events, file);
    // One session for both merges here (the test above covers the default: ledger on a second session).
    const result = await runBackfill({ dumpPath: file, until, profile, pool, parallelMerge: false });
    const expected = expectedFinalState(events, profile, { until });
    expect(result.rowsSkippedAfterUntil).toBe(0);
    expect(result.rowsDlq).toBe(expected.dlq);
    await expectDbMatches(pool, idPrefix, expected);
  });

  it('dead-letters a line only PostgreSQL refuses as DB_REJECTED with its raw bytes; the rest of its chunk applies', async () => {
    const profile = getProfile('canonical-v1');
    const idPrefix = `${prefix}r-`;
    const order = (id: string, eventTime: string) =>
      JSON.stringify({
        order_id: `${idPrefix}${id}`,
        status: 'CREATED',
        amount: '1.50',
        currency: 'KRW',
        event_time: eventTime,
        updated_at: '2026-01-05T00:00:01Z',
      });
    // Year 1 at +01:00 is an instant in 1 BC: a valid RFC 3339 timestamp the contract accepts, outside what
    // PostgreSQL reads back from the staged text, so only the merge refuses it (and bisection isolates it).
    const refused = order('bad', '0001-01-01T00:00:00+01:00');
    const lines = [order('a', '2026-01-05T00:00:00Z'), refused, order('b', '2026-01-05T00:00:00Z')];
    const file = path.join(dir, `${tag}-rejected.ndjson`);
    await fs.promises.writeFile(file, lines.join('\n') + '\n');
    const result = await runBackfill({
      dumpPath: file,
      until: new Date('2100-01-01T00:00:00Z'),
      profile,
      pool,
    });
    expect(result.rowsDlq).toBe(1);
    const dlq = await dlqRows(pool, { dumpFilePrefix: `${tag}-rejected` });
    expect(dlq.map((r) => [r.reason, Number(r.dump_line)])).toEqual([['DB_REJECTED', 2]]);
    expect((dlq[0]!.raw_value as Buffer).toString('utf8')).toBe(refused);
    const stored = await pool.query<{ order_id: string }>(
      'SELECT order_id FROM bo.payment_orders WHERE order_id LIKE $1 ORDER BY order_id',
      [`${idPrefix}%`],
    );
    expect(stored.rows.map((r) => r.order_id)).toEqual([`${idPrefix}a`, `${idPrefix}b`]);
  });

  it('rejects a missing dump path with BackfillInputError, and the CLI exits 2 on bad arguments', async () => {
    await expect(
      runBackfill({
        dumpPath: path.join(dir, 'nope'),
        until: new Date(),
        profile: getProfile('canonical-v1'),
        pool,
      }),
    ).rejects.toBeInstanceOf(BackfillInputError);
    const cli = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'sync/backfill-main.ts'), ...args], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, LOG_LEVEL: 'warn' },
      });
    const badUntil = cli(['--dump', dir, '--until', '2026-01-01 10:00']);
    expect(badUntil.status).toBe(2);
    expect(badUntil.stderr).toContain('--until must be an RFC 3339 timestamp');
    expect(badUntil.stderr).toContain('usage: npm run backfill');
    const missing = cli(['--dump', path.join(dir, 'missing-dir'), '--until', '2026-01-01T10:00:00Z']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('dump path not found');
  });
});

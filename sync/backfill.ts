// Backfill (SPEC §5): load a dump (NDJSON, NDJSON.gz, or a directory of them) with event_time < until
// through the same contract, LWW and pairing as the consumer, in bulk: per chunk of lines, COPY into the
// session's staging tables and merge with the data layer's statement, in ONE transaction that also
// advances bo.backfill_checkpoints. A crash resumes right after the last committed chunk; nothing is
// applied twice, and a re-run changes nothing (LWW no-ops, DLQ rows are unique per dump line).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { decodeDumpLine, type DlqReason, type EventProfile } from '../contract';
import { logger } from '../core/log';
import {
  consumerDlqTotal,
  consumerMessagesTotal,
  consumerVersionMissingTotal,
  pairingOutcomesTotal,
} from '../core/metrics';
import {
  createStagingTables,
  insertDlqEvents,
  mergeStagedLedger,
  mergeStagedOrders,
  stagingCopySql,
  toCopyLine,
  type DlqInsert,
  type MergeSummary,
  type PairingSummary,
} from '../db/apply';
import { RowRejectedError, classifyPgError } from '../db/errors';
import { getPool } from '../db/pool';
import { backoffMs } from './consumer';
import { sleep } from './kafka';

/** Bad input the backfill cannot work with (missing dump, unreadable/corrupt file, checkpoint mismatch): retrying will not help. */
export class BackfillInputError extends Error {
  override name = 'BackfillInputError';
}

export interface BackfillProgress {
  linesRead: number;
  rowsApplied: number;
  rowsDlq: number;
  rowsSkippedAfterUntil: number;
  bytesRead: number;
  totalBytes: number;
  /** Lines per second of this run. */
  rate: number;
  etaSec: number | null;
  currentFile: string | null;
}

export interface BackfillOptions {
  dumpPath: string;
  until: Date;
  profile: EventProfile;
  pool?: pg.Pool;
  /** Default: a hash of (realpath(dumpPath), until). */
  checkpointId?: string;
  /** Lines per transaction (default 20,000). */
  chunkLines?: number;
  /** Start over even if the checkpoint completed (changes nothing in the DB: LWW no-ops). */
  fresh?: boolean;
  onProgress?(p: BackfillProgress): void;
  /** Aborting stops after the chunk in flight commits; the run rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Merge a chunk's ledger entries on a second session while its orders merge (default true). */
  parallelMerge?: boolean;
}

export interface BackfillCounts {
  linesRead: number;
  rowsApplied: number;
  rowsDlq: number;
  rowsSkippedAfterUntil: number;
}

export interface BackfillResult extends BackfillCounts {
  checkpointId: string;
  dumpPath: string;
  until: string;
  files: string[];
  /** True when the checkpoint had already completed and nothing was read. */
  alreadyCompleted: boolean;
  resumedFrom: { file: string; line: number } | null;
  /** This invocation only (the top-level counts are totals over every run of the checkpoint). */
  run: BackfillCounts & {
    inserted: number;
    updated: number;
    unchanged: number;
    stale: number;
    pairing: PairingSummary;
    chunks: number;
    /** Wall time spent in chunk transactions (COPY + merge + checkpoint). */
    dbSeconds: number;
    seconds: number;
    linesPerSec: number;
  };
}

interface DumpFile {
  abs: string;
  /** Path relative to dumpPath (what DLQ rows and the checkpoint record). */
  rel: string;
  size: number;
  gzip: boolean;
}

const DUMP_FILE = /\.(ndjson|jsonl)(\.gz)?$/i;
const MAX_LINE_BYTES = 16 * 1024 * 1024;
const MAX_TRANSIENT_ATTEMPTS = 10;

export async function listDumpFiles(dumpPath: string): Promise<DumpFile[]> {
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(dumpPath);
  } catch (err) {
    throw new BackfillInputError(
      `dump path not found or unreadable: ${dumpPath} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  if (stat.isFile()) {
    return [
      {
        abs: path.resolve(dumpPath),
        rel: path.basename(dumpPath),
        size: stat.size,
        gzip: dumpPath.endsWith('.gz'),
      },
    ];
  }
  if (!stat.isDirectory())
    throw new BackfillInputError(`dump path is neither a file nor a directory: ${dumpPath}`);
  const names = (await fs.promises.readdir(dumpPath)).filter((n) => DUMP_FILE.test(n)).sort();
  if (names.length === 0)
    throw new BackfillInputError(`no .ndjson / .ndjson.gz / .jsonl files in ${dumpPath}`);
  return Promise.all(
    names.map(async (rel) => {
      const abs = path.resolve(dumpPath, rel);
      const s = await fs.promises.stat(abs);
      return { abs, rel, size: s.size, gzip: rel.toLowerCase().endsWith('.gz') };
    }),
  );
}

export async function defaultCheckpointId(dumpPath: string, until: Date): Promise<string> {
  let real: string;
  try {
    real = await fs.promises.realpath(dumpPath);
  } catch {
    throw new BackfillInputError(`dump path not found: ${dumpPath}`);
  }
  return `bf-${createHash('sha256').update(`${real}\n${until.toISOString()}`).digest('hex').slice(0, 32)}`;
}

/** One physical line of a dump file. */
export interface DumpLine {
  /** 1-based. */
  lineNo: number;
  bytes: Buffer;
  /** The line was longer than MAX_LINE_BYTES; `bytes` holds its head only. */
  oversized: boolean;
}

// gunzip output chunk: zlib's default of 16 KiB costs twice the CPU of 256 KiB (per-chunk round trips to the
// thread pool and stream callbacks; measured 1.1-1.4 s vs 0.6 s on a 266 MB dump).
const GUNZIP_CHUNK_BYTES = 256 * 1024;

/**
 * The lines of a file as raw bytes (no UTF-8 decoding here: the contract must see invalid bytes), 1-based line
 * numbers, CR of CRLF stripped, in batches (the lines ending in one read chunk: one await per chunk, not per
 * line). Lines over MAX_LINE_BYTES come back truncated with `oversized`.
 */
export async function* readLineBatches(
  file: DumpFile,
  onBytes: (n: number) => void,
): AsyncGenerator<DumpLine[]> {
  const raw = fs.createReadStream(file.abs, { highWaterMark: 1024 * 1024 });
  raw.on('data', (c) => onBytes(c.length));
  const source: AsyncIterable<Buffer> = file.gzip
    ? raw.pipe(zlib.createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES }))
    : raw;
  if (file.gzip) raw.on('error', (err) => (source as unknown as zlib.Gunzip).destroy(err));
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let oversized = false;
  let lineNo = 0;
  const take = (tail: Buffer): Buffer => {
    const whole = carry.length === 0 ? tail : Buffer.concat([...carry, tail]);
    carry = [];
    carryBytes = 0;
    return whole.length > 0 && whole[whole.length - 1] === 0x0d ? whole.subarray(0, whole.length - 1) : whole;
  };
  try {
    for await (const chunk of source) {
      const batch: DumpLine[] = [];
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, start);
        if (nl < 0) break;
        lineNo += 1;
        const bytes = take(chunk.subarray(start, nl));
        batch.push({ lineNo, bytes: oversized ? bytes.subarray(0, 4096) : bytes, oversized });
        oversized = false;
        start = nl + 1;
      }
      if (batch.length > 0) yield batch;
      if (start < chunk.length) {
        const rest = chunk.subarray(start);
        if (oversized) continue; // keep skipping until the newline, only the head was kept
        carry.push(rest);
        carryBytes += rest.length;
        if (carryBytes > MAX_LINE_BYTES) {
          const head = Buffer.concat(carry).subarray(0, 4096);
          carry = [head];
          carryBytes = head.length;
          oversized = true;
        }
      }
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (
      code.startsWith('Z_') ||
      /unexpected end of file|incorrect header check/i.test((err as Error).message)
    ) {
      throw new BackfillInputError(
        `${file.rel}: not a valid gzip stream after line ${lineNo} (${(err as Error).message})`,
      );
    }
    throw err;
  }
  if (carryBytes > 0 || oversized) {
    lineNo += 1;
    const bytes = take(Buffer.alloc(0));
    yield [{ lineNo, bytes: oversized ? bytes.subarray(0, 4096) : bytes, oversized }];
  }
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function isBlank(bytes: Buffer): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  return true;
}

interface Chunk {
  file: string;
  /** Last physical line of the file this chunk covers (the checkpoint position after it commits). */
  lastLine: number;
  /** The file ends with this chunk. */
  fileDone: boolean;
  ledgerCopy: CopyBuffer;
  orderCopy: CopyBuffer;
  /** Raw bytes of every staged line by line number (arrival_seq), for DB_REJECTED dead letters. */
  staged: StagedLines;
  dlq: DlqInsert[];
  linesRead: number;
  skipped: number;
  versionMissing: { ledger: number; order: number };
}

interface CheckpointRow {
  checkpoint_id: string;
  dump_path: string;
  until_ts: Date;
  files_done: string[];
  current_file: string | null;
  current_line: number | string;
  rows_read: number | string;
  rows_applied: number | string;
  rows_dlq: number | string;
  completed_at: Date | null;
}

function countsOf(cp: CheckpointRow): BackfillCounts {
  const linesRead = Number(cp.rows_read);
  const rowsApplied = Number(cp.rows_applied);
  const rowsDlq = Number(cp.rows_dlq);
  return { linesRead, rowsApplied, rowsDlq, rowsSkippedAfterUntil: linesRead - rowsApplied - rowsDlq };
}

function emptyPairing(): PairingSummary {
  return { opened: 0, completed: 0, conflicts: 0, unpairable: 0 };
}

export async function runBackfill(opts: BackfillOptions): Promise<BackfillResult> {
  const log = logger('backfill');
  const { profile, until, signal } = opts;
  if (!(until instanceof Date) || Number.isNaN(until.getTime()))
    throw new BackfillInputError('until must be a valid Date');
  const chunkLines = opts.chunkLines ?? 20_000;
  if (!Number.isSafeInteger(chunkLines) || chunkLines < 1)
    throw new BackfillInputError('chunkLines must be a positive integer');
  const files = await listDumpFiles(opts.dumpPath);
  // DLQ rows name the dump file by absolute path: two different dumps with the same file names must
  // not collide on the (dump_file, dump_line) key, while re-running the same dump still deduplicates.
  const absByRel = new Map(files.map((f) => [f.rel, f.abs]));
  const checkpointId = opts.checkpointId ?? (await defaultCheckpointId(opts.dumpPath, until));
  const realDump = await fs.promises.realpath(opts.dumpPath);
  const pool = opts.pool ?? getPool();
  const t0 = performance.now();

  const run = {
    linesRead: 0,
    rowsApplied: 0,
    rowsDlq: 0,
    rowsSkippedAfterUntil: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    stale: 0,
    pairing: emptyPairing(),
    chunks: 0,
    dbSeconds: 0,
  };
  const finish = (
    cp: CheckpointRow,
    extra: { alreadyCompleted: boolean; resumedFrom: BackfillResult['resumedFrom'] },
  ): BackfillResult => {
    const seconds = (performance.now() - t0) / 1000;
    return {
      checkpointId,
      dumpPath: opts.dumpPath,
      until: until.toISOString(),
      files: files.map((f) => f.rel),
      ...countsOf(cp),
      ...extra,
      run: { ...run, seconds, linesPerSec: seconds > 0 ? run.linesRead / seconds : 0 },
    };
  };

  // One session for the whole run: it holds the checkpoint's advisory lock and the staging tables.
  let client: pg.PoolClient | undefined;
  const lockKey = `backfill:${checkpointId}`;
  const connect = async (): Promise<pg.PoolClient> => {
    const c = await pool.connect();
    const got = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [
      lockKey,
    ]);
    if (!got.rows[0]?.ok) {
      c.release();
      throw new BackfillInputError(`another backfill is running with checkpoint ${checkpointId}`);
    }
    return c;
  };
  const dropClient = (err?: Error): void => {
    client?.release(err ?? true);
    client = undefined;
  };
  // A second session merges a chunk's ledger entries while the first merges its orders (different tables, no
  // shared rows, so the two merges cannot conflict). Only with a pool that has room for it.
  const parallelMerge = (pool.options.max ?? 10) >= 2 && opts.parallelMerge !== false;
  let ledgerClient: pg.PoolClient | undefined;
  // Back to the pool when idle; destroyed after an error (it may be broken or mid-transaction).
  const dropLedgerClient = (err?: Error): void => {
    ledgerClient?.release(err);
    ledgerClient = undefined;
  };

  try {
    client = await connect();
    let cp = await loadCheckpoint(client, checkpointId, realDump, until);
    if (cp.completed_at && !opts.fresh) {
      log.info('checkpoint already completed; nothing to do', { checkpointId, ...countsOf(cp) });
      return finish(cp, { alreadyCompleted: true, resumedFrom: null });
    }
    if (opts.fresh) {
      cp = (
        await client.query<CheckpointRow>(
          `UPDATE bo.backfill_checkpoints SET files_done = '{}', current_file = NULL, current_line = 0, rows_read = 0,
             rows_applied = 0, rows_dlq = 0, completed_at = NULL, updated_at = now()
           WHERE checkpoint_id = $1 RETURNING *`,
          [checkpointId],
        )
      ).rows[0]!;
    }
    const done = new Set(cp.files_done);
    const resumeFile = cp.current_file;
    const resumeLine = Number(cp.current_line);
    // current_file is written by every committed chunk: set means an earlier run got somewhere.
    const resumedFrom = resumeFile !== null ? { file: resumeFile, line: resumeLine } : null;
    if (resumedFrom)
      log.info('resuming from checkpoint', { checkpointId, ...resumedFrom, filesDone: done.size });

    const totalBytes = files.reduce((s, f) => s + f.size, 0);
    let bytesRead = files.filter((f) => done.has(f.rel)).reduce((s, f) => s + f.size, 0);
    const bytesAtStart = bytesRead;
    let currentFile: string | null = null;
    const totals = countsOf(cp);
    const report = (): void => {
      if (!opts.onProgress) return;
      const seconds = (performance.now() - t0) / 1000;
      const byteRate = seconds > 0 ? (bytesRead - bytesAtStart) / seconds : 0;
      opts.onProgress({
        linesRead: totals.linesRead + run.linesRead,
        rowsApplied: totals.rowsApplied + run.rowsApplied,
        rowsDlq: totals.rowsDlq + run.rowsDlq,
        rowsSkippedAfterUntil: totals.rowsSkippedAfterUntil + run.rowsSkippedAfterUntil,
        bytesRead,
        totalBytes,
        rate: seconds > 0 ? run.linesRead / seconds : 0,
        etaSec: byteRate > 0 ? Math.max(0, (totalBytes - bytesRead) / byteRate) : null,
        currentFile,
      });
    };

    // --- producer of chunks (decoding overlaps with the previous chunk's transaction) -------------------
    async function* chunks(): AsyncGenerator<Chunk> {
      for (const file of files) {
        if (done.has(file.rel)) continue;
        currentFile = file.rel;
        const skipThrough = file.rel === resumeFile ? resumeLine : 0;
        let chunk = newChunk(file.rel);
        for await (const batch of readLineBatches(file, (n) => (bytesRead += n))) {
          for (const { lineNo, bytes, oversized } of batch) {
            if (lineNo <= skipThrough) continue;
            if ((lineNo & 255) === 0) {
              signal?.throwIfAborted();
              // Decoding is CPU work on the event loop: yield often so the chunk transaction in flight gets its
              // round trips answered promptly instead of waiting behind a long decoding burst.
              await yieldToEventLoop();
            }
            chunk.lastLine = lineNo;
            if (bytes.length === 0 || isBlank(bytes)) continue;
            chunk.linesRead += 1;
            addLine(chunk, file.rel, lineNo, bytes, oversized);
            if (chunk.linesRead >= chunkLines) {
              yield chunk;
              chunk = newChunk(file.rel, lineNo);
            }
          }
        }
        chunk.fileDone = true;
        chunk.lastLine = Math.max(chunk.lastLine, skipThrough);
        yield chunk;
      }
    }

    function newChunk(file: string, lastLine = 0): Chunk {
      return {
        file,
        lastLine,
        fileDone: false,
        ledgerCopy: new CopyBuffer(),
        orderCopy: new CopyBuffer(),
        staged: new StagedLines(),
        dlq: [],
        linesRead: 0,
        skipped: 0,
        versionMissing: { ledger: 0, order: 0 },
      };
    }

    const dlqMeta = (
      file: string,
      lineNo: number,
      bytes: Buffer,
    ): Omit<DlqInsert, 'reason' | 'error_detail'> => ({
      source: 'backfill',
      profile_id: profile.id,
      topic: null,
      partition: null,
      offset: null,
      message_key: null,
      headers: null,
      raw_value: bytes,
      dump_file: absByRel.get(file) ?? file,
      dump_line: lineNo,
    });

    function addLine(chunk: Chunk, file: string, lineNo: number, bytes: Buffer, oversized: boolean): void {
      if (oversized) {
        chunk.dlq.push({
          ...dlqMeta(file, lineNo, bytes),
          reason: 'SCHEMA_VIOLATION',
          error_detail: `line longer than ${MAX_LINE_BYTES} bytes; raw_value keeps its first 4096 bytes`,
        });
        return;
      }
      const decoded = decodeDumpLine(profile, bytes);
      if (!decoded.ok) {
        chunk.dlq.push({
          ...dlqMeta(file, lineNo, bytes),
          reason: decoded.reason,
          error_detail: decoded.detail,
        });
        return;
      }
      const row = decoded.stream === 'ledger' ? decoded.entry : decoded.order;
      if (row.event_time.getTime() >= until.getTime()) {
        chunk.skipped += 1;
        return;
      }
      try {
        if (decoded.stream === 'ledger') chunk.ledgerCopy.push(toCopyLine.ledger(decoded.entry, lineNo));
        else chunk.orderCopy.push(toCopyLine.order(decoded.order, lineNo));
      } catch (err) {
        if (!(err instanceof RowRejectedError)) throw err;
        chunk.dlq.push({ ...dlqMeta(file, lineNo, bytes), reason: 'DB_REJECTED', error_detail: err.message });
        return;
      }
      chunk.staged.add(lineNo, bytes);
      if (decoded.versionMissing) chunk.versionMissing[decoded.stream] += 1;
    }

    // --- one chunk: its merges, then dead letters + checkpoint (see writeChunk) ---------------------------
    async function commitChunk(chunk: Chunk): Promise<void> {
      for (let attempt = 1; ; attempt++) {
        try {
          client ??= await connect();
          if (parallelMerge && chunk.ledgerCopy.lines && chunk.orderCopy.lines)
            ledgerClient ??= await pool.connect();
          const began = performance.now();
          const merged = await writeChunk(client, chunk);
          run.dbSeconds += (performance.now() - began) / 1000;
          account(chunk, merged);
          return;
        } catch (err) {
          if (
            err instanceof BackfillInputError ||
            classifyPgError(err) !== 'transient' ||
            attempt >= MAX_TRANSIENT_ATTEMPTS
          )
            throw err;
          dropClient(err as Error);
          dropLedgerClient(err as Error);
          const delay = backoffMs(attempt);
          log.warn('transient failure, retrying the chunk', {
            checkpointId,
            file: chunk.file,
            line: chunk.lastLine,
            attempt,
            delayMs: delay,
            err,
          });
          await sleep(delay);
        }
      }
    }

    /** COPY one kind of the chunk into `session`'s staging table and merge it (inside the caller's transaction). */
    async function stageAndMerge(session: pg.PoolClient, kind: 'ledger' | 'order', chunk: Chunk) {
      await copyLines(session, stagingCopySql(kind), kind === 'ledger' ? chunk.ledgerCopy : chunk.orderCopy);
      return (kind === 'ledger' ? mergeStagedLedger : mergeStagedOrders)(session, 'backfill');
    }

    /** One kind of the chunk, staged and merged in its own transaction on `session`. */
    async function mergeKindAlone(session: pg.PoolClient, kind: 'ledger' | 'order', chunk: Chunk) {
      await session.query('BEGIN');
      try {
        await createStagingTables(session);
        const m = await stageAndMerge(session, kind, chunk);
        await session.query('COMMIT');
        return m;
      } catch (err) {
        await session.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    }

    async function writeChunk(
      c: pg.PoolClient,
      chunk: Chunk,
    ): Promise<{ ledger: MergeSummary | null; orders: MergeSummary | null; dlq: DlqInsert[] }> {
      // With a second session, the ledger and the order merge run in parallel, each in its own transaction that
      // touches one table only, and the dead letters + checkpoint commit after both. No transaction ever waits
      // for another one while holding row locks (a transaction holding order rows while this process waited for
      // the ledger session could close a lock cycle with a consumer batch that PostgreSQL cannot see). If
      // anything fails after a merge committed, the chunk is retried from the checkpoint and re-applies rows
      // already there, which changes nothing (the merges are idempotent); only that retry's outcome counts say
      // 'unchanged' for them.
      const apart = ledgerClient !== undefined && chunk.ledgerCopy.lines > 0 && chunk.orderCopy.lines > 0;
      let ledger: MergeSummary | null = null;
      let orders: MergeSummary | null = null;
      if (apart) {
        // allSettled: both sessions are idle again before the chunk is retried on them.
        const [l, o] = await Promise.allSettled([
          mergeKindAlone(ledgerClient!, 'ledger', chunk),
          mergeKindAlone(c, 'order', chunk),
        ]);
        if (l.status === 'rejected') throw l.reason;
        if (o.status === 'rejected') throw o.reason;
        [ledger, orders] = [l.value, o.value];
      }
      await c.query('BEGIN');
      try {
        if (!apart) {
          // One transaction for the whole chunk.
          await createStagingTables(c);
          if (chunk.ledgerCopy.lines) ledger = await stageAndMerge(c, 'ledger', chunk);
          if (chunk.orderCopy.lines) orders = await stageAndMerge(c, 'order', chunk);
        }
        const rejected = [...(ledger?.rejected ?? []), ...(orders?.rejected ?? [])].map((r) => ({
          ...dlqMeta(chunk.file, r.arrivalSeq, chunk.staged.get(r.arrivalSeq)),
          reason: 'DB_REJECTED' as const,
          error_detail: r.detail,
        }));
        const dlq = [...chunk.dlq, ...rejected];
        await insertDlqEvents(c, dlq);
        const staged = chunk.ledgerCopy.lines + chunk.orderCopy.lines - rejected.length;
        await c.query(
          `UPDATE bo.backfill_checkpoints SET
             current_file = $2, current_line = $3,
             files_done = CASE WHEN $4 AND NOT ($2 = ANY (files_done)) THEN array_append(files_done, $2) ELSE files_done END,
             rows_read = rows_read + $5, rows_applied = rows_applied + $6, rows_dlq = rows_dlq + $7, updated_at = now()
           WHERE checkpoint_id = $1`,
          [checkpointId, chunk.file, chunk.lastLine, chunk.fileDone, chunk.linesRead, staged, dlq.length],
        );
        await c.query('COMMIT');
        return { ledger, orders, dlq };
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    }

    function account(
      chunk: Chunk,
      merged: { ledger: MergeSummary | null; orders: MergeSummary | null; dlq: DlqInsert[] },
    ): void {
      run.chunks += 1;
      run.linesRead += chunk.linesRead;
      run.rowsSkippedAfterUntil += chunk.skipped;
      run.rowsDlq += merged.dlq.length;
      for (const [stream, m] of [
        ['ledger', merged.ledger],
        ['order', merged.orders],
      ] as const) {
        if (!m) continue;
        const applied = m.inserted + m.updated + m.unchanged + m.stale;
        run.rowsApplied += applied;
        run.inserted += m.inserted;
        run.updated += m.updated;
        run.unchanged += m.unchanged;
        run.stale += m.stale;
        for (const k of ['opened', 'completed', 'conflicts', 'unpairable'] as const)
          run.pairing[k] += m.pairing[k];
        for (const outcome of ['inserted', 'updated', 'unchanged', 'stale'] as const) {
          if (m[outcome]) consumerMessagesTotal.inc({ source: 'backfill', stream, outcome }, m[outcome]);
        }
        pairingOutcomesTotal.inc({ outcome: 'opened' }, m.pairing.opened);
        pairingOutcomesTotal.inc({ outcome: 'completed' }, m.pairing.completed);
        pairingOutcomesTotal.inc({ outcome: 'conflict' }, m.pairing.conflicts);
        pairingOutcomesTotal.inc({ outcome: 'unpairable' }, m.pairing.unpairable);
        if (chunk.versionMissing[stream])
          consumerVersionMissingTotal.inc({ stream }, chunk.versionMissing[stream]);
      }
      const reasons = new Map<DlqReason, number>();
      for (const d of merged.dlq) reasons.set(d.reason, (reasons.get(d.reason) ?? 0) + 1);
      for (const [reason, n] of reasons) consumerDlqTotal.inc({ reason, source: 'backfill' }, n);
      if (merged.dlq.length)
        consumerMessagesTotal.inc(
          { source: 'backfill', stream: 'unknown', outcome: 'dlq' },
          merged.dlq.length,
        );
      report();
    }

    // --- the pipeline: at most one chunk in flight while the next one is decoded ------------------------
    let inflight: Promise<void> | null = null;
    try {
      for await (const chunk of chunks()) {
        if (inflight) await inflight;
        signal?.throwIfAborted();
        inflight = commitChunk(chunk);
        inflight.catch(() => undefined); // handled when awaited; avoids an unhandled rejection meanwhile
      }
      if (inflight) await inflight;
      inflight = null;
    } catch (err) {
      if (inflight) await inflight.catch(() => undefined);
      throw err;
    }

    client ??= await connect();
    const final = (
      await client.query<CheckpointRow>(
        `UPDATE bo.backfill_checkpoints SET completed_at = now(), updated_at = now() WHERE checkpoint_id = $1 RETURNING *`,
        [checkpointId],
      )
    ).rows[0]!;
    const result = finish(final, { alreadyCompleted: false, resumedFrom });
    log.info('backfill completed', { checkpointId, ...countsOf(final), run: result.run });
    return result;
  } finally {
    dropLedgerClient();
    if (client) {
      await client
        .query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [lockKey])
        .then(() => client?.release())
        .catch((err: Error) => client?.release(err));
      client = undefined;
    }
  }
}

async function loadCheckpoint(
  client: pg.ClientBase,
  checkpointId: string,
  dumpPath: string,
  until: Date,
): Promise<CheckpointRow> {
  await client.query(
    `INSERT INTO bo.backfill_checkpoints (checkpoint_id, dump_path, until_ts) VALUES ($1, $2, $3) ON CONFLICT (checkpoint_id) DO NOTHING`,
    [checkpointId, dumpPath, until],
  );
  const cp = (
    await client.query<CheckpointRow>('SELECT * FROM bo.backfill_checkpoints WHERE checkpoint_id = $1', [
      checkpointId,
    ])
  ).rows[0];
  if (!cp) throw new Error(`checkpoint ${checkpointId} vanished`);
  if (cp.dump_path !== dumpPath || cp.until_ts.getTime() !== until.getTime()) {
    throw new BackfillInputError(
      `checkpoint ${checkpointId} belongs to dump ${cp.dump_path} until ${cp.until_ts.toISOString()}, not ${dumpPath} until ${until.toISOString()}`,
    );
  }
  return cp;
}

/**
 * A growing byte buffer that a chunk appends to as its lines arrive. Keeping 20k line strings (or 20k Buffer views
 * of the read chunks) alive until the chunk's transaction ran made them survive young-generation GCs (promotion to
 * the old generation was a large share of the backfill's GC time); one buffer per chunk does not. Kept intact until
 * the chunk commits, so a retried chunk sends it again.
 */
class ChunkBytes {
  private buf = Buffer.allocUnsafe(256 * 1024);
  private usedBytes = 0;

  /** Bytes appended so far. */
  get used(): number {
    return this.usedBytes;
  }

  private reserve(n: number): void {
    if (this.usedBytes + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.usedBytes + n));
    this.buf.copy(grown, 0, 0, this.usedBytes);
    this.buf = grown;
  }

  appendUtf8(text: string): void {
    this.reserve(text.length * 3); // a UTF-16 unit takes at most 3 bytes in UTF-8
    this.usedBytes += this.buf.write(text, this.usedBytes, 'utf8');
  }

  appendBytes(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.usedBytes);
    this.usedBytes += bytes.length;
  }

  /** A view of bytes [start, end). */
  view(start: number, end: number): Buffer {
    return this.buf.subarray(start, end);
  }
}

/** A chunk's COPY input for one staging table, UTF-8 encoded as the lines arrive. */
class CopyBuffer {
  private readonly bytes = new ChunkBytes();
  /** Lines pushed. */
  lines = 0;

  push(line: string): void {
    this.bytes.appendUtf8(line);
    this.lines += 1;
  }

  /** The encoded lines in slices (views, no copy). */
  *slices(size = 256 * 1024): Generator<Buffer> {
    for (let i = 0; i < this.bytes.used; i += size)
      yield this.bytes.view(i, Math.min(this.bytes.used, i + size));
  }
}

/** The raw bytes of a chunk's staged lines by line number, for the dead letter of a row the merge rejects. */
class StagedLines {
  private readonly bytes = new ChunkBytes();
  /** Ascending (a chunk is a run of one file's lines). */
  private readonly lineNos: number[] = [];
  private readonly ends: number[] = [];

  add(lineNo: number, raw: Uint8Array): void {
    this.bytes.appendBytes(raw);
    this.lineNos.push(lineNo);
    this.ends.push(this.bytes.used);
  }

  /** A copy of the line's raw bytes (empty if it was not staged). */
  get(lineNo: number): Buffer {
    let lo = 0;
    let hi = this.lineNos.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const at = this.lineNos[mid]!;
      if (at === lineNo)
        return Buffer.from(this.bytes.view(mid === 0 ? 0 : this.ends[mid - 1]!, this.ends[mid]!));
      if (at < lineNo) lo = mid + 1;
      else hi = mid - 1;
    }
    return Buffer.alloc(0);
  }
}

async function copyLines(client: pg.ClientBase, sql: string, data: CopyBuffer): Promise<void> {
  await pipeline(Readable.from(data.slices()), client.query(copyFrom(sql)));
}

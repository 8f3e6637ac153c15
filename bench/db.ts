// Data-layer throughput: applyBatch (LWW + pairing + DLQ, one transaction per batch) versus a raw COPY of the
// same rows into index-identical scratch tables. Target: applyBatch rows/s >= 0.4 x raw COPY rows/s.
//
//   npm run bench:db -- [--rows 1000000] [--batch 500] [--writers N] [--seed 42] [--keep]
//
// Writers apply batches concurrently the way the consumer does: as many as its CONSUMER_PARTITIONS_CONCURRENCY
// (default 4) unless --writers, and each row goes to the writer its entity key hashes to (tx_id for entries,
// order_id for orders), as Kafka partitions by message key - one key's versions arrive through one writer, in
// stream order; an order's PAYMENT and RECEIVE entries can still meet on its pair row from two writers.
//
// Input: a deterministic (seeded PRNG) mix of payment orders and their PAYMENT/RECEIVE ledger entries, plus
// newer versions of recent keys and a few unpairable entries; 10% of the rows are redeliveries of earlier rows
// and ~20% are displaced (out of order). Rows land in the real bo tables under a unique id prefix, removed at the
// end unless --keep. The raw COPY loads the distinct keys (a COPY cannot take a key twice) into
// CREATE TABLE ... (LIKE bo.x INCLUDING ALL) copies, which are dropped afterwards.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { LedgerEntry, PaymentOrder } from '../contract';
import { envOrExit } from '../core/env';
import {
  type BatchInput,
  type BatchResult,
  applyBatch,
  createStagingTables,
  mergeStagedLedger,
  mergeStagedOrders,
  stagingCopySql,
  toLedgerCopyLine,
  toOrderCopyLine,
} from '../db/apply';
import { TransientDbError } from '../db/errors';
import { migrateToHead } from '../db/migrate';
import { createPool, withoutStatementTimeout } from '../db/pool';
import { requireStack } from './stack-check';

interface Options {
  rows: number;
  batch: number;
  writers: number;
  seed: number;
  keep: boolean;
}

function parseArgs(argv: string[], defaultWriters: number): Options {
  const opts: Options = { rows: 1_000_000, batch: 500, writers: defaultWriters, seed: 42, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (name: string) => {
      const v = Number(argv[++i]);
      if (!Number.isSafeInteger(v) || v <= 0)
        throw new Error(`${name} needs a positive integer, got ${argv[i]}`);
      return v;
    };
    if (a === '--rows') opts.rows = num(a);
    else if (a === '--batch') opts.batch = num(a);
    else if (a === '--writers') opts.writers = num(a);
    else if (a === '--seed') opts.seed = num(a);
    else if (a === '--keep') opts.keep = true;
    else throw new Error(`unknown argument ${a} (use --rows N --batch N --writers N --seed N --keep)`);
  }
  return opts;
}

// mulberry32: small, fast, deterministic.
function prng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Event = { kind: 'ledger'; row: LedgerEntry } | { kind: 'order'; row: PaymentOrder };

function generate(opts: Options, prefix: string): Event[] {
  const rand = prng(opts.seed);
  const pick = (n: number) => Math.floor(rand() * n);
  const T0 = Date.parse('2025-01-01T00:00:00Z');
  const events: Event[] = [];
  const recent: Event[] = []; // ring of recent distinct versions, for updates and redeliveries
  const remember = (e: Event) => {
    if (recent.length < 4096) recent.push(e);
    else recent[pick(recent.length)] = e;
  };
  const amount = () => `${1 + pick(1_000_000)}.${String(pick(100)).padStart(2, '0')}`;
  const statuses = [
    'CREATED',
    'PENDING',
    'AUTHORIZED',
    'PAID',
    'SETTLED',
    'FAILED',
    'CANCELLED',
    'REFUNDED',
  ] as const;
  const groups = {
    CREATED: 'IN_PROGRESS',
    PENDING: 'IN_PROGRESS',
    AUTHORIZED: 'IN_PROGRESS',
    PAID: 'SUCCESS',
    SETTLED: 'SUCCESS',
    FAILED: 'FAILED',
    CANCELLED: 'CANCELLED',
    REFUNDED: 'REFUNDED',
  } as const;
  let n = 0;
  while (events.length < opts.rows) {
    const r = rand();
    if (r < 0.1 && recent.length > 0) {
      events.push(recent[pick(recent.length)]!); // redelivery: the identical row again
      continue;
    }
    if (r < 0.25 && recent.length > 0) {
      const base = recent[pick(recent.length)]!;
      const e: Event =
        base.kind === 'ledger'
          ? {
              kind: 'ledger',
              row: {
                ...base.row,
                amount: amount(),
                source_version:
                  base.row.source_version === null ? null : base.row.source_version + 1 + pick(3),
              },
            }
          : (() => {
              const status = statuses[pick(statuses.length)]!;
              return {
                kind: 'order' as const,
                row: {
                  ...base.row,
                  status,
                  status_group: groups[status],
                  updated_at: new Date(base.row.updated_at!.getTime() + 1000 + pick(60_000)),
                },
              };
            })();
      events.push(e);
      remember(e);
      continue;
    }
    n += 1;
    const time = new Date(T0 + n * 1000);
    const wallet = `${prefix}w-${pick(5000)}`;
    if (rand() < 0.05) {
      // Unversioned, unpairable adjustment.
      const e: Event = {
        kind: 'ledger',
        row: {
          tx_id: `${prefix}adj-${n}`,
          wallet_id: wallet,
          entry_type: 'ADJUSTMENT',
          amount: amount(),
          currency: 'KRW',
          related_id: null,
          related_type: 'UNKNOWN',
          event_time: time,
          updated_at: null,
          source_version: null,
        },
      };
      events.push(e);
      remember(e);
      continue;
    }
    // A payment: the order and its two ledger entries.
    const orderId = `${prefix}ord-${n}`;
    const value = amount();
    const batch: Event[] = [
      {
        kind: 'order',
        row: {
          order_id: orderId,
          status: 'CREATED',
          status_group: 'IN_PROGRESS',
          amount: value,
          currency: 'KRW',
          payer_wallet_id: wallet,
          payee_wallet_id: `${prefix}w-${pick(5000)}`,
          event_time: time,
          updated_at: time,
          source_version: null,
        },
      },
      {
        kind: 'ledger',
        row: {
          tx_id: `${prefix}pay-${n}`,
          wallet_id: wallet,
          entry_type: 'PAYMENT',
          amount: `-${value}`,
          currency: 'KRW',
          related_id: orderId,
          related_type: 'PAYMENT_ORDER',
          event_time: time,
          updated_at: null,
          source_version: 1,
        },
      },
      {
        kind: 'ledger',
        row: {
          tx_id: `${prefix}rec-${n}`,
          wallet_id: `${prefix}w-${pick(5000)}`,
          entry_type: 'RECEIVE',
          amount: value,
          currency: 'KRW',
          related_id: orderId,
          related_type: 'PAYMENT_ORDER',
          event_time: time,
          updated_at: null,
          source_version: 1,
        },
      },
    ];
    for (const e of batch) {
      events.push(e);
      remember(e);
    }
  }
  events.length = opts.rows;
  // Out of order: swap 10% of positions with a row up to 2000 places later (~20% of rows displaced).
  for (let i = 0; i < events.length; i++) {
    if (rand() < 0.1) {
      const j = Math.min(events.length - 1, i + 1 + pick(2000));
      [events[i], events[j]] = [events[j]!, events[i]!];
    }
  }
  return events;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Stable string hash (FNV-1a) for routing a key to a writer. */
function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Each writer's batches: rows routed by entity key (see the header), in stream order, cut into batches. */
function writerBatches(events: Event[], writers: number, batch: number): Event[][][] {
  const streams: Event[][] = Array.from({ length: writers }, () => []);
  for (const e of events)
    streams[keyHash(e.kind === 'ledger' ? e.row.tx_id : e.row.order_id) % writers]!.push(e);
  return streams.map((rows) => {
    const out: Event[][] = [];
    for (let i = 0; i < rows.length; i += batch) out.push(rows.slice(i, i + batch));
    return out;
  });
}

async function runApplyBatch(pool: pg.Pool, events: Event[], opts: Options) {
  const perWriter = writerBatches(events, opts.writers, opts.batch);
  const batches = perWriter.reduce((n, b) => n + b.length, 0);
  const latencies: number[] = [];
  const totals = {
    inserted: 0,
    updated: 0,
    unchanged: 0,
    stale: 0,
    rejected: 0,
    opened: 0,
    completed: 0,
    conflicts: 0,
    unpairable: 0,
    retries: 0,
  };
  const add = (r: BatchResult) => {
    for (const res of [r.ledger, r.orders]) {
      for (const o of res.outcomes) totals[o] += 1;
    }
    totals.opened += r.ledger.pairing.opened;
    totals.completed += r.ledger.pairing.completed;
    totals.conflicts += r.ledger.pairing.conflicts;
    totals.unpairable += r.ledger.pairing.unpairable;
  };
  const worker = async (w: number) => {
    for (const [b, slice] of (perWriter[w] ?? []).entries()) {
      const meta = (i: number) => ({
        source: 'consumer' as const,
        profile_id: 'canonical-v1',
        topic: 'bench',
        partition: w,
        offset: String(b * opts.batch + i),
        message_key: null,
        headers: null,
        raw_value: null,
      });
      const input: BatchInput = { source: 'consumer', dlq: [], entries: [], orders: [] };
      slice.forEach((e, i) => {
        if (e.kind === 'ledger') input.entries.push({ row: e.row, dlq: meta(i) });
        else input.orders.push({ row: e.row, dlq: meta(i) });
      });
      for (;;) {
        const t = performance.now();
        try {
          add(await applyBatch(pool, input));
          latencies.push(performance.now() - t);
          break;
        } catch (err) {
          if (!(err instanceof TransientDbError)) throw err;
          totals.retries += 1;
        }
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: opts.writers }, (_, w) => worker(w)));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    seconds,
    batches,
    totals,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
  };
}

// COPY data goes out in ~64 KB chunks, not one stream write per line (both COPY paths, for a fair baseline).
function* chunked(lines: () => Iterable<string>, bytes = 64 * 1024): Generator<string> {
  let buf = '';
  for (const line of lines()) {
    buf += line;
    if (buf.length >= bytes) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}

// COPY text encoding of a whole table row (ingested_at, source included).
function field(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  const s = v instanceof Date ? v.toISOString() : String(v);
  return s.replace(/[\\\n\r\t]/g, (c) => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!);
}
const LEDGER_COLS = [
  'tx_id',
  'wallet_id',
  'entry_type',
  'amount',
  'currency',
  'related_id',
  'related_type',
  'event_time',
  'updated_at',
  'source_version',
] as const;
const ORDER_COLS = [
  'order_id',
  'status',
  'status_group',
  'amount',
  'currency',
  'payer_wallet_id',
  'payee_wallet_id',
  'event_time',
  'updated_at',
  'source_version',
] as const;

async function runRawCopy(pool: pg.Pool, events: Event[]) {
  // One row per key (the table has the same primary key); the last one seen, as a COPY-based load would keep.
  const ledger = new Map<string, LedgerEntry>();
  const orders = new Map<string, PaymentOrder>();
  for (const e of events) {
    if (e.kind === 'ledger') ledger.set(e.row.tx_id, e.row);
    else orders.set(e.row.order_id, e.row);
  }
  const suffix = randomBytes(4).toString('hex');
  const rawLedger = `public.bench_raw_ledger_${suffix}`;
  const rawOrders = `public.bench_raw_orders_${suffix}`;
  // Without the pool's statement timeout: on a slow moment of the host the ledger COPY alone outlasted it.
  return withoutStatementTimeout(pool, async (client) => {
    try {
      await client.query(`CREATE TABLE ${rawLedger} (LIKE bo.ledger_entries INCLUDING ALL)`);
      await client.query(`CREATE TABLE ${rawOrders} (LIKE bo.payment_orders INCLUDING ALL)`);
      const now = new Date().toISOString();
      const started = performance.now();
      const copyInto = async <R>(table: string, cols: readonly (keyof R & string)[], rows: Iterable<R>) =>
        pipeline(
          Readable.from(
            chunked(function* () {
              for (const r of rows) yield `${cols.map((c) => field(r[c])).join('\t')}\t${now}\tbackfill\n`;
            }),
          ),
          client.query(copyFrom(`COPY ${table} (${cols.join(', ')}, ingested_at, source) FROM STDIN`)),
        );
      await copyInto(rawLedger, LEDGER_COLS, ledger.values());
      await copyInto(rawOrders, ORDER_COLS, orders.values());
      const seconds = (performance.now() - started) / 1000;
      return { seconds, rows: ledger.size + orders.size };
    } finally {
      await client.query(`DROP TABLE IF EXISTS ${rawLedger}, ${rawOrders}`).catch(() => undefined);
    }
  });
}

// The bulk path the backfill uses: COPY chunks into the staging tables, merged by the same statement.
async function runStaged(pool: pg.Pool, events: Event[], chunk: number) {
  const client = await pool.connect();
  const totals = { inserted: 0, updated: 0, unchanged: 0, stale: 0, rejected: 0 };
  try {
    await createStagingTables(client);
    const started = performance.now();
    for (let from = 0; from < events.length; from += chunk) {
      const slice = events.slice(from, from + chunk);
      await client.query('BEGIN');
      await client.query('SET LOCAL statement_timeout = 0');
      await pipeline(
        Readable.from(
          chunked(function* () {
            for (const [i, e] of slice.entries())
              if (e.kind === 'ledger') yield toLedgerCopyLine(e.row, from + i);
          }),
        ),
        client.query(copyFrom(stagingCopySql('ledger'))),
      );
      await pipeline(
        Readable.from(
          chunked(function* () {
            for (const [i, e] of slice.entries())
              if (e.kind === 'order') yield toOrderCopyLine(e.row, from + i);
          }),
        ),
        client.query(copyFrom(stagingCopySql('order'))),
      );
      for (const r of [
        await mergeStagedLedger(client, 'backfill'),
        await mergeStagedOrders(client, 'backfill'),
      ]) {
        totals.inserted += r.inserted;
        totals.updated += r.updated;
        totals.unchanged += r.unchanged;
        totals.stale += r.stale;
        totals.rejected += r.rejected.length;
      }
      await client.query('COMMIT');
    }
    return { seconds: (performance.now() - started) / 1000, totals };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

async function cleanup(pool: pg.Pool, prefix: string): Promise<void> {
  const like = `${prefix}%`;
  // Deleting ~2M rows can outlast the pool's statement timeout.
  await withoutStatementTimeout(pool, async (client) => {
    await client.query(`DELETE FROM bo.payment_ledger_pairs WHERE related_id LIKE $1`, [like]);
    await client.query(`DELETE FROM bo.ledger_entries WHERE tx_id LIKE $1`, [like]);
    await client.query(`DELETE FROM bo.payment_orders WHERE order_id LIKE $1`, [like]);
    await client.query(`VACUUM ANALYZE bo.ledger_entries, bo.payment_orders, bo.payment_ledger_pairs`);
  });
}

async function main(): Promise<void> {
  const config = envOrExit();
  const opts = parseArgs(process.argv.slice(2), config.CONSUMER_PARTITIONS_CONCURRENCY);
  if (!(await requireStack(config, ['postgres']))) process.exit(1);
  const url = config.DATABASE_URL;
  await migrateToHead(url);
  const prefix = `bench-${randomBytes(4).toString('hex')}-`;
  const t = performance.now();
  const events = generate(opts, prefix);
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  process.stdout.write(
    `generated ${fmt(events.length)} rows (prefix ${prefix}, seed ${opts.seed}) in ${((performance.now() - t) / 1000).toFixed(1)} s: ` +
      `${fmt(events.filter((e) => e.kind === 'ledger').length)} ledger, ${fmt(events.filter((e) => e.kind === 'order').length)} orders\n`,
  );

  const pool = createPool(url, opts.writers + 1);
  try {
    // The machine is shared: the raw COPY runs before AND after applyBatch, and the ratio uses their mean,
    // so a load change during the run does not favour either side.
    const copyLine = (label: string, c: { seconds: number; rows: number }) =>
      process.stdout.write(
        `raw COPY (${label}): ${fmt(c.rows)} distinct rows into LIKE ... INCLUDING ALL copies: ${c.seconds.toFixed(2)} s = ${fmt(c.rows / c.seconds)} rows/s\n`,
      );
    const before = await runRawCopy(pool, events);
    copyLine('before', before);

    const a = await runApplyBatch(pool, events, opts);
    const applyRate = events.length / a.seconds;
    process.stdout.write(
      `applyBatch: ${fmt(events.length)} rows in ${a.batches} batches of ${opts.batch}, ${opts.writers} writers: ${a.seconds.toFixed(2)} s = ${fmt(applyRate)} rows/s\n` +
        `  batch latency ms p50 ${a.p50.toFixed(1)} p95 ${a.p95.toFixed(1)} p99 ${a.p99.toFixed(1)}; transient retries ${a.totals.retries}\n` +
        `  outcomes: inserted ${fmt(a.totals.inserted)}, updated ${fmt(a.totals.updated)}, unchanged ${fmt(a.totals.unchanged)}, stale ${fmt(a.totals.stale)}, rejected ${a.totals.rejected}\n` +
        `  pairing: opened ${fmt(a.totals.opened)}, completed ${fmt(a.totals.completed)}, conflicts ${a.totals.conflicts}, unpairable ${fmt(a.totals.unpairable)}\n`,
    );

    const after = await runRawCopy(pool, events);
    copyLine('after', after);
    const copyRate = (before.rows / before.seconds + after.rows / after.seconds) / 2;
    const ratio = applyRate / copyRate;
    process.stdout.write(
      `ratio applyBatch / raw COPY (mean ${fmt(copyRate)} rows/s) = ${ratio.toFixed(2)} (target >= 0.40): ${ratio >= 0.4 ? 'OK' : 'BELOW TARGET'}\n`,
    );

    // The same history under another prefix through the bulk (staging) path, for the backfill's figures.
    const st = await runStaged(pool, generate(opts, `${prefix}s-`), 50_000);
    process.stdout.write(
      `staged COPY + merge (backfill path, chunks of 50,000): ${st.seconds.toFixed(2)} s = ${fmt(events.length / st.seconds)} rows/s ` +
        `(inserted ${fmt(st.totals.inserted)}, updated ${fmt(st.totals.updated)}, unchanged ${fmt(st.totals.unchanged)}, stale ${fmt(st.totals.stale)}, rejected ${st.totals.rejected})\n`,
    );
  } finally {
    if (!opts.keep) await cleanup(pool, prefix);
    await pool.end();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:db failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

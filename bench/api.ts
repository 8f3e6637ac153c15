// Admin API benchmark (`npm run bench:api -- [--rows 1000000] [--seconds 30] ...`).
//
//  1. seeds N ledger entries (plus their orders and COMPLETE pairs) under a unique prefix with COPY;
//  2. starts the API as a child process in AUTH_MODE=oidc (in-process dev issuer) with auditing on;
//  3. (a) latency at a fixed open-loop rate (default 1,000 req/s, after --ramp-seconds 5 at that rate, which
//         are reported apart) of GET /admin/tx/{id}, random ids, 90% present, sent by vegeta (Go, built once
//         into the cache by `ops/stack tool vegeta`; the in-process Node loop, which counts from each
//         request's SCHEDULED send time, when go is missing);
//         printed next to what the API's own api_request_latency_seconds histogram saw over the same window,
//         the host's CPU steal (this box is shared and noisy) and how many lookups each statement served (the
//         API coalesces concurrent lookups);
//     (b) max throughput, closed loop at concurrency 32 and 64: the in-process Node client, and wrk when it is
//         installed (Debian package wrk; a C client like pgbench, much cheaper per request);
//     (c) the same closed loops and open loop against a bare node:http + pg handler of the lookup
//         (bench/bare-lookup.ts): what Node itself reaches here, without tRPC, the bridge, auth or audit; then
//         against the same handler committing each lookup's audit row first (the API's group-commit writer);
//  4. runs pgbench with the same lookup statement (-M prepared, -c 8/16/32 -j 2) and prints the ratio
//     API req/s : best pgbench tps (target >= 0.5; p95 < 10 ms, p99 < 25 ms).
// Load generators run in or next to this process; the API in its own. Seed rows and the run's audit rows are
// deleted at the end unless --keep. DATABASE_URL selects the database (default: the stack's).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { envOrExit } from '../core/env';
import { LEDGER_ENTRY_BY_TX_ID_SQL } from '../db/lookups';
import { startDevOidc } from '../ops/dev-oidc';
import { requireStack } from './stack-check';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Options {
  rows: number;
  seconds: number;
  /** Open loops run at the rate this long before the measured window (reported apart as `ramp`). */
  rampSeconds: number;
  rate: number;
  tputSeconds: number;
  concurrency: number[];
  pgbenchSeconds: number;
  pgbenchClients: number[];
  present: number;
  keep: boolean;
}

function parseOptions(argv: string[]): Options {
  const o: Options = {
    rows: 1_000_000,
    seconds: 30,
    rampSeconds: 5,
    rate: 1000,
    tputSeconds: 15,
    concurrency: [32, 64],
    pgbenchSeconds: 15,
    pgbenchClients: [8, 16, 32],
    present: 0.9,
    keep: false,
  };
  const num = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number >= ${min}`);
    return n;
  };
  const list = (name: string, v: string | undefined): number[] =>
    (v ?? '').split(',').map((x) => Math.trunc(num(name, x, 1)));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    switch (a) {
      case '--rows':
        o.rows = Math.trunc(num(a, v, 10));
        i++;
        break;
      case '--seconds':
        o.seconds = num(a, v, 1);
        i++;
        break;
      case '--ramp-seconds':
        o.rampSeconds = num(a, v, 0);
        i++;
        break;
      case '--rate':
        o.rate = num(a, v, 1);
        i++;
        break;
      case '--tput-seconds':
        o.tputSeconds = num(a, v, 1);
        i++;
        break;
      case '--concurrency':
        o.concurrency = list(a, v);
        i++;
        break;
      case '--pgbench-seconds':
        o.pgbenchSeconds = Math.trunc(num(a, v, 1));
        i++;
        break;
      case '--pgbench-clients':
        o.pgbenchClients = list(a, v);
        i++;
        break;
      case '--present':
        o.present = num(a, v, 0);
        i++;
        break;
      case '--keep':
        o.keep = true;
        break;
      default:
        throw new Error(
          `unknown option ${a}\nusage: bench:api [--rows N] [--seconds S] [--ramp-seconds S] [--rate R] [--tput-seconds S] ` +
            '[--concurrency 32,64] [--pgbench-seconds S] [--pgbench-clients 8,16,32] [--present 0.9] [--keep]',
        );
    }
  }
  if (o.present > 1) throw new Error('--present is a fraction 0..1');
  return o;
}

const say = (msg: string): void => void process.stdout.write(`${msg}\n`);

// --- seeding -------------------------------------------------------------------------------------------

const BASE_TIME = Date.parse('2025-01-01T00:00:00Z');

async function copyRows(
  client: pg.PoolClient,
  sql: string,
  count: number,
  line: (i: number) => string,
): Promise<void> {
  async function* lines(): AsyncGenerator<string> {
    const chunk = 5000;
    for (let start = 0; start < count; start += chunk) {
      let buf = '';
      for (let i = start; i < Math.min(count, start + chunk); i++) buf += line(i);
      yield buf;
    }
  }
  await pipeline(Readable.from(lines()), client.query(copyFrom(sql)));
}

async function seed(pool: pg.Pool, prefix: string, rows: number): Promise<void> {
  const wallets = Math.max(1, Math.floor(rows / 20));
  const pairs = Math.floor(rows / 2);
  const client = await pool.connect();
  try {
    const iso = (ms: number): string => new Date(ms).toISOString();
    await copyRows(
      client,
      `COPY bo.ledger_entries (tx_id, wallet_id, entry_type, amount, currency, related_id, related_type, event_time,
         updated_at, source_version, ingested_at, source) FROM STDIN`,
      rows,
      (i) => {
        const t = BASE_TIME + i * 100;
        return `${prefix}${i}\t${prefix}w${i % wallets}\t${i % 2 === 0 ? 'PAYMENT' : 'RECEIVE'}\t${i % 100000}.${String(i % 100).padStart(2, '0')}\tKRW\t${prefix}o${i >> 1}\tPAYMENT_ORDER\t${iso(t)}\t\\N\t${i % 7}\t${iso(t + 200)}\tbackfill\n`;
      },
    );
    await copyRows(
      client,
      `COPY bo.payment_orders (order_id, status, status_group, amount, currency, payer_wallet_id, payee_wallet_id,
         event_time, updated_at, source_version, ingested_at, source) FROM STDIN`,
      pairs,
      (k) => {
        const t = BASE_TIME + 2 * k * 100;
        return `${prefix}o${k}\tSETTLED\tSUCCESS\t${(2 * k) % 100000}.00\tKRW\t${prefix}w${(2 * k) % wallets}\t${prefix}w${(2 * k + 1) % wallets}\t${iso(t)}\t\\N\t1\t${iso(t + 300)}\tbackfill\n`;
      },
    );
    await copyRows(
      client,
      `COPY bo.payment_ledger_pairs (related_id, payment_tx_id, receive_tx_id, pairing_status, first_seen_at, completed_at)
       FROM STDIN`,
      pairs,
      (k) => {
        const t = BASE_TIME + 2 * k * 100;
        return `${prefix}o${k}\t${prefix}${2 * k}\t${prefix}${2 * k + 1}\tCOMPLETE\t${iso(t + 200)}\t${iso(t + 300)}\n`;
      },
    );
  } finally {
    client.release();
  }
  // Steady state before measuring: a VACUUM sets hint bits and the visibility map now, so neither the first
  // reads of each fresh page nor an autovacuum of the 1M new rows land inside the measured window.
  await pool.query('VACUUM (ANALYZE) bo.ledger_entries, bo.payment_orders, bo.payment_ledger_pairs');
}

async function cleanup(pool: pg.Pool, prefix: string, actor: string): Promise<void> {
  const like = `${prefix}%`;
  await pool.query('DELETE FROM bo.payment_ledger_pairs WHERE related_id LIKE $1', [like]);
  await pool.query('DELETE FROM bo.payment_orders WHERE order_id LIKE $1', [like]);
  await pool.query('DELETE FROM bo.ledger_entries WHERE tx_id LIKE $1', [like]);
  // The run's own audit rows are synthetic load, not admin activity.
  await pool.query('DELETE FROM bo.admin_audit_logs WHERE sub = $1', [actor]);
}

// --- API process ---------------------------------------------------------------------------------------

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitReady(url: string, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`API exited with code ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('API did not become ready');
}

// --- load generation -----------------------------------------------------------------------------------

interface Sample {
  latencies: number[];
  statuses: Map<number, number>;
  errors: number;
  errorKinds?: Map<string, number>;
  elapsedSec: number;
  /** Open loop: the longest this process went without running its 1 ms send timer (its own stalls). */
  maxStallMs?: number;
}

function makeRequester(baseUrl: string, token: string, maxSockets: number) {
  const url = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  const headers = { authorization: `Bearer ${token}`, 'user-agent': 'bench-api/1' };
  return {
    agent,
    get(pathname: string): Promise<number> {
      return new Promise((resolve, reject) => {
        const req = http.request(
          { host: url.hostname, port: url.port, path: pathname, method: 'GET', agent, headers },
          (res) => {
            res.on('data', () => {});
            res.on('end', () => resolve(res.statusCode ?? 0));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end();
      });
    },
  };
}

function idPicker(prefix: string, rows: number, present: number): () => string {
  return () =>
    Math.random() < present
      ? `${prefix}${Math.floor(Math.random() * rows)}`
      : `${prefix}absent-${Math.floor(Math.random() * 1e9)}`;
}

async function openLoop(
  get: (p: string) => Promise<number>,
  pick: () => string,
  rate: number,
  seconds: number,
): Promise<Sample> {
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  const errorKinds = new Map<string, number>();
  let errors = 0;
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  let sent = 0;
  let lastTick = start;
  let maxStallMs = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      maxStallMs = Math.max(maxStallMs, now - lastTick);
      lastTick = now;
      const due = Math.min(total, Math.floor(((now - start) / 1000) * rate) + 1);
      while (sent < due) {
        const scheduled = start + (sent * 1000) / rate;
        sent++;
        inFlight.push(
          get(`/admin/tx/${pick()}`).then(
            (status) => {
              latencies.push(performance.now() - scheduled);
              statuses.set(status, (statuses.get(status) ?? 0) + 1);
            },
            (err: unknown) => {
              errors++;
              const kind = (err as { code?: string }).code ?? String(err).slice(0, 60);
              errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
            },
          ),
        );
      }
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(inFlight);
  return {
    latencies,
    statuses,
    errors,
    errorKinds,
    elapsedSec: (performance.now() - start) / 1000,
    maxStallMs,
  };
}

/** vegeta, built once into the cache by `ops/stack tool vegeta` (Go on PATH); null when it cannot be had. */
function findVegeta(): string | null {
  const res = spawnSync(path.join(repoRoot, 'ops/stack'), ['tool', 'vegeta'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const bin = res.stdout?.trim().split('\n').pop();
  return res.status === 0 && bin && existsSync(bin) ? bin : null;
}

/** Above this CPU steal in an open loop the run's latency figures say more about the host than the API. */
const NOISY_STEAL_PCT = 5;

type VegetaFigures = ReturnType<typeof summarise> & { error_messages?: string[] };

type OpenLoopSummary = VegetaFigures & {
  load_generator: 'vegeta' | 'node';
  /** The first seconds at the rate, left out of the figures above (see openLoopAt). */
  ramp?: { seconds: number; requests: number; p99_ms: number; max_ms: number };
};

/** What an open loop sends: `pick`ed ids with `token` to `baseUrl`, at `rate` for rampSeconds + seconds. */
interface OpenLoopPlan {
  baseUrl: string;
  token: string;
  pick: () => string;
  rate: number;
  seconds: number;
  rampSeconds: number;
  /** Runs when the measured window begins (observed() takes its before-samples there). */
  onSteady?: () => Promise<void>;
}

/** The ramp's part of a summary: how many requests it sent and its worst latencies. */
function rampOf(seconds: number, figures: ReturnType<typeof summarise>): OpenLoopSummary['ramp'] {
  return figures.requests > 0
    ? { seconds, requests: figures.requests, p99_ms: figures.p99_ms, max_ms: figures.max_ms }
    : undefined;
}

/** One vegeta result (`vegeta encode --to json`, one object per line). */
interface VegetaResult {
  code: number;
  timestamp: string;
  /** ns */
  latency: number;
  error: string;
}

/** Figures of vegeta results in the same shape as summarise() (latency from each request's scheduled send). */
function summariseVegeta(results: VegetaResult[], seconds: number): VegetaFigures {
  const statuses = new Map<number, number>();
  const failures = new Set<string>();
  let errors = 0;
  for (const r of results) {
    if (r.code === 0) {
      errors += 1;
      failures.add(r.error);
    } else statuses.set(r.code, (statuses.get(r.code) ?? 0) + 1);
  }
  const s = summarise({
    latencies: results.map((r) => r.latency / 1e6),
    statuses,
    errors,
    elapsedSec: seconds,
  });
  // vegeta reports a non-2xx status as an error too: 404s of absent ids are answers, not failures.
  return failures.size > 0 ? { ...s, error_messages: [...failures].slice(0, 5) } : s;
}

/**
 * Open loop with vegeta (Go): every request leaves at its scheduled time on a free worker (vegeta adds
 * workers instead of waiting for responses); latency is counted from that send. Same ids (`pick`) and token
 * as the other loops. A single-threaded Node loop on these two cores delays its own sends and response
 * handling whenever the API or PostgreSQL has the CPU; measured here, that alone put a bare node:http + pg
 * handler's p95 at 44 ms, against 4.3 ms with vegeta in the same minutes.
 */
async function vegetaOpenLoop(vegeta: string, plan: OpenLoopPlan): Promise<OpenLoopSummary> {
  const { rate, seconds, rampSeconds } = plan;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-api-vegeta-'));
  try {
    const targets = path.join(dir, 'targets.txt');
    const results = path.join(dir, 'results.bin');
    const total = Math.round(rate * (rampSeconds + seconds));
    const lines = Array.from({ length: total }, () => `GET ${plan.baseUrl}/admin/tx/${plan.pick()}`);
    writeFileSync(targets, `${lines.join('\n')}\n`);
    const attack = spawn(
      vegeta,
      [
        'attack',
        `-rate=${rate}/s`,
        `-duration=${rampSeconds + seconds}s`,
        `-targets=${targets}`,
        `-header=authorization: Bearer ${plan.token}`,
        '-header=user-agent: bench-api/1',
        `-output=${results}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    attack.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => {
      attack.once('exit', resolve);
      attack.once('error', (err) => {
        stderr += err.message;
        resolve(null);
      });
    });
    await new Promise((r) => setTimeout(r, rampSeconds * 1000));
    await plan.onSteady?.();
    if ((await exited) !== 0) throw new Error(`vegeta attack failed: ${stderr.trim().slice(0, 300)}`);
    const encoded = spawnSync(vegeta, ['encode', '--to', 'json', results], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
    });
    if (encoded.status !== 0) throw new Error(`vegeta encode failed: ${encoded.stderr.trim().slice(0, 300)}`);
    const sent = encoded.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const r = JSON.parse(line) as VegetaResult;
        return { r, at: Date.parse(r.timestamp) };
      });
    const steadyFrom = sent.reduce((min, x) => Math.min(min, x.at), Infinity) + rampSeconds * 1000;
    const ramp = sent.filter((x) => x.at < steadyFrom).map((x) => x.r);
    const steady = sent.filter((x) => x.at >= steadyFrom).map((x) => x.r);
    return {
      load_generator: 'vegeta',
      ...summariseVegeta(steady, seconds),
      ramp: rampOf(rampSeconds, summariseVegeta(ramp, rampSeconds)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Open loop with vegeta when it is available, else the in-process Node loop above. Both run at the rate for
 * `rampSeconds` first and leave that out of the figures (reported apart as `ramp`): starting from no
 * connections, the first second at 1,000 req/s here took 0.2-4.5 s per request while the load generator
 * opened its ~200 connections, which alone made a run's p99.
 */
async function openLoopAt(vegeta: string | null, plan: OpenLoopPlan): Promise<OpenLoopSummary> {
  if (vegeta) return vegetaOpenLoop(vegeta, plan);
  const requester = makeRequester(plan.baseUrl, plan.token, 256);
  const run = (seconds: number) => openLoop(requester.get, plan.pick, plan.rate, seconds);
  try {
    const ramp = plan.rampSeconds > 0 ? summarise(await run(plan.rampSeconds)) : null;
    await plan.onSteady?.();
    return {
      load_generator: 'node',
      ...summarise(await run(plan.seconds)),
      ramp: ramp ? rampOf(plan.rampSeconds, ramp) : undefined,
    };
  } finally {
    requester.agent.destroy();
  }
}

async function closedLoop(
  get: (p: string) => Promise<number>,
  pick: () => string,
  concurrency: number,
  seconds: number,
): Promise<Sample> {
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let errors = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          const status = await get(`/admin/tx/${pick()}`);
          latencies.push(performance.now() - t0);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        } catch {
          errors++;
        }
      }
    }),
  );
  return { latencies, statuses, errors, elapsedSec: (performance.now() - start) / 1000 };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function summarise(s: Sample) {
  const sorted = [...s.latencies].sort((a, b) => a - b);
  const r = (x: number): number => Math.round(x * 100) / 100;
  return {
    requests: s.latencies.length,
    req_per_sec: Math.round(s.latencies.length / s.elapsedSec),
    p50_ms: r(percentile(sorted, 50)),
    p95_ms: r(percentile(sorted, 95)),
    p99_ms: r(percentile(sorted, 99)),
    max_ms: r(sorted[sorted.length - 1] ?? NaN),
    statuses: Object.fromEntries(s.statuses),
    errors: s.errors,
    ...(s.errorKinds && s.errorKinds.size > 0 ? { error_kinds: Object.fromEntries(s.errorKinds) } : {}),
    ...(s.maxStallMs === undefined ? {} : { loadgen_max_stall_ms: r(s.maxStallMs) }),
  };
}

// --- what the API and the host saw ---------------------------------------------------------------------

const TX_ROUTE = '/admin/tx/{tx_id}';

interface ApiScrape {
  /** Cumulative api_request_latency_seconds buckets of GET /admin/tx/{tx_id} (all statuses), le -> count. */
  txLatency: Map<number, number>;
  /** Statements the /admin/tx lookups sent (db_queries_total{op="api_tx_get"}): one serves many lookups. */
  txStatements: number;
}

async function scrapeApi(baseUrl: string): Promise<ApiScrape> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const txLatency = new Map<number, number>();
  let txStatements = 0;
  for (const line of text.split('\n')) {
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!Number.isFinite(value)) continue;
    if (line.startsWith('db_queries_total{') && line.includes('op="api_tx_get"')) txStatements += value;
    if (!line.startsWith('api_request_latency_seconds_bucket{') || !line.includes(`route="${TX_ROUTE}"`))
      continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    txLatency.set(bound, (txLatency.get(bound) ?? 0) + value);
  }
  return { txLatency, txStatements };
}

/** Lookups per statement between two scrapes (the API coalesces concurrent lookups). */
function lookupsPerStatement(before: ApiScrape, after: ApiScrape): number | null {
  const lookups = (after.txLatency.get(Infinity) ?? 0) - (before.txLatency.get(Infinity) ?? 0);
  const statements = after.txStatements - before.txStatements;
  return statements > 0 ? Math.round((100 * lookups) / statements) / 100 : null;
}

/**
 * Server-side percentiles (ms) of the requests between two scrapes, interpolated inside the histogram's
 * buckets as PromQL's histogram_quantile does: coarse, but measured inside the API, so a stall of the load
 * generator does not show up in it.
 */
function serverPercentiles(
  before: Map<number, number>,
  after: Map<number, number>,
): { server_p50_ms: number; server_p95_ms: number; server_p99_ms: number } | null {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0) return null;
  const q = (p: number): number => {
    const rank = p * total;
    for (let i = 0; i < bounds.length; i++) {
      if ((counts[i] as number) >= rank) {
        const upper = bounds[i] as number;
        const lower = i === 0 ? 0 : (bounds[i - 1] as number);
        if (upper === Infinity) return Math.round(lower * 1e5) / 100;
        const below = i === 0 ? 0 : (counts[i - 1] as number);
        const inBucket = (counts[i] as number) - below;
        const at = inBucket > 0 ? lower + ((upper - lower) * (rank - below)) / inBucket : upper;
        return Math.round(at * 1e5) / 100;
      }
    }
    return NaN;
  };
  return { server_p50_ms: q(0.5), server_p95_ms: q(0.95), server_p99_ms: q(0.99) };
}

/** Host CPU counters from /proc/stat (Linux; null elsewhere): steal is time the hypervisor gave away. */
function hostCpu(): { steal: number; total: number } | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]
      ?.trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    if (!fields || fields.length < 8) return null;
    return { steal: fields[7] as number, total: fields.slice(0, 8).reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

/** Percent of CPU time stolen by the hypervisor between two hostCpu() samples. */
function stealPct(a: ReturnType<typeof hostCpu>, b: ReturnType<typeof hostCpu>): number | null {
  if (!a || !b || b.total <= a.total) return null;
  return Math.round((1000 * (b.steal - a.steal)) / (b.total - a.total)) / 10;
}

/**
 * Runs `load` against the API and adds what the host and the API itself saw meanwhile; a load that warms up
 * first calls `steady` when its measured window begins, which takes the before-samples again.
 */
async function observed<T>(baseUrl: string, load: (steady: () => Promise<void>) => T | Promise<T>) {
  let scrapedBefore = await scrapeApi(baseUrl);
  let cpuBefore = hostCpu();
  const steady = async (): Promise<void> => {
    scrapedBefore = await scrapeApi(baseUrl);
    cpuBefore = hostCpu();
  };
  const result = await load(steady);
  const cpuAfter = hostCpu();
  const scrapedAfter = await scrapeApi(baseUrl);
  return {
    result,
    host_steal_pct: stealPct(cpuBefore, cpuAfter),
    lookups_per_statement: lookupsPerStatement(scrapedBefore, scrapedAfter),
    ...serverPercentiles(scrapedBefore.txLatency, scrapedAfter.txLatency),
  };
}

// --- pgbench -------------------------------------------------------------------------------------------

function findPgbench(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const bin = path.join(root, v, 'bin', 'pgbench');
    if (existsSync(bin)) return bin;
  }
  throw new Error('pgbench not found under /usr/lib/postgresql/*/bin');
}

/** Path of wrk (Debian package `wrk`) when installed: a C load generator, like pgbench on the DB side. */
function findWrk(): string | null {
  const res = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' });
  return res.status === 0 && res.stdout.trim() ? res.stdout.trim() : null;
}

/**
 * Closed loop with wrk: same random ids (present / absent), same token, `concurrency` connections, one thread
 * (it leaves the other core to the API and PostgreSQL). Returns req/s, or null when wrk failed.
 */
function wrkClosedLoop(
  wrk: string,
  baseUrl: string,
  token: string,
  prefix: string,
  rows: number,
  present: number,
  concurrency: number,
  seconds: number,
): { req_per_sec: number; non_2xx: number } | null {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-api-wrk-'));
  try {
    const script = path.join(dir, 'ids.lua');
    writeFileSync(
      script,
      [
        `local prefix, rows, present = ${JSON.stringify(prefix)}, ${rows}, ${present}`,
        'math.randomseed(os.time())',
        'request = function()',
        '  local id',
        '  if math.random() < present then id = prefix .. math.random(0, rows - 1)',
        '  else id = prefix .. "absent-" .. math.random(1, 1000000000) end',
        '  return wrk.format("GET", "/admin/tx/" .. id)',
        'end',
        '',
      ].join('\n'),
    );
    const res = spawnSync(
      wrk,
      [
        '-t1',
        `-c${concurrency}`,
        `-d${seconds}s`,
        '-H',
        `authorization: Bearer ${token}`,
        '-s',
        script,
        baseUrl,
      ],
      { encoding: 'utf8' },
    );
    const rps = /Requests\/sec:\s+([\d.]+)/.exec(res.stdout ?? '');
    if (res.status !== 0 || !rps) {
      say(`    wrk failed: ${(res.stderr || res.stdout || '').trim().slice(0, 300)}`);
      return null;
    }
    const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(res.stdout);
    return { req_per_sec: Math.round(Number(rps[1])), non_2xx: non2xx ? Number(non2xx[1]) : 0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function pgbench(
  databaseUrl: string,
  prefix: string,
  rows: number,
  present: number,
  clients: number,
  seconds: number,
): number {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-api-'));
  try {
    const script = path.join(dir, 'lookup.sql');
    // Same statement as the API; ids past `rows` do not exist, so (1 - present) of lookups miss.
    const span = Math.max(rows, Math.round(rows / Math.max(present, 0.01)));
    const sql = LEDGER_ENTRY_BY_TX_ID_SQL.replace('$1', `'${prefix}' || :n`).replace(/\s+/g, ' ');
    writeFileSync(script, `\\set n random(0, ${span - 1})\n${sql};\n`);
    const u = new URL(databaseUrl);
    const res = spawnSync(
      findPgbench(),
      [
        '-n',
        '-f',
        script,
        '-c',
        String(clients),
        '-j',
        '2',
        '-T',
        String(seconds),
        '-M',
        'prepared',
        '-h',
        u.hostname,
        '-p',
        u.port || '5432',
        '-U',
        decodeURIComponent(u.username),
        u.pathname.slice(1),
      ],
      { encoding: 'utf8', env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password) } },
    );
    const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(res.stdout ?? '');
    if (res.status !== 0 || !m?.[1]) throw new Error(`pgbench failed: ${res.stderr || res.stdout}`);
    return Number(m[1]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- main ----------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const config = envOrExit();
  if (!(await requireStack(config, ['postgres']))) process.exit(1);
  const databaseUrl = config.DATABASE_URL;
  const prefix = `bench-api-${randomBytes(4).toString('hex')}-`;
  const actor = `bench-${prefix.slice(0, -1)}`;
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  let api: ChildProcess | undefined;
  let bare: ChildProcess | undefined;
  const oidc = await startDevOidc({ port: 0 });
  try {
    say(
      `seeding ${opts.rows} ledger entries (+ ${Math.floor(opts.rows / 2)} orders and pairs) as ${prefix}* ...`,
    );
    const t0 = performance.now();
    await seed(pool, prefix, opts.rows);
    say(`  seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    // BENCH_API_NODE_FLAGS: extra node flags for the API process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    const nodeFlags = process.env.BENCH_API_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
    api = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', path.join(repoRoot, 'api/main.ts')], {
      cwd: repoRoot,
      env: {
        ...process.env,
        NODE_ENV: 'production',
        APP_ENV: 'staging',
        LOG_LEVEL: 'warn',
        HOST: '127.0.0.1',
        PORT: String(port),
        DATABASE_URL: databaseUrl,
        AUTH_MODE: 'oidc',
        OIDC_JWKS_URL: oidc.jwksUrl,
        OIDC_ISSUER: oidc.issuer,
        OIDC_AUDIENCE: oidc.audience,
        CURSOR_SECRET: randomBytes(24).toString('hex'),
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    await waitReady(baseUrl, api);
    const token = await oidc.mint({ sub: actor, roles: ['ADMIN_READ'] }, { ttlSec: 4 * 3600 });
    const pick = idPicker(prefix, opts.rows, opts.present);

    // warm-up: connections, prepared statements, JWKS fetch, JIT
    const warm = makeRequester(baseUrl, token, 16);
    await closedLoop(warm.get, pick, 16, 3);
    warm.agent.destroy();

    const vegeta = findVegeta();
    say(
      `(a) open loop at ${opts.rate} req/s for ${opts.seconds} s, ` +
        (vegeta
          ? 'vegeta ...'
          : 'in-process Node loop (vegeta unavailable: ops/stack tool vegeta needs go) ...'),
    );
    const { result: openSample, ...openSeen } = await observed(baseUrl, (steady) =>
      openLoopAt(vegeta, {
        baseUrl,
        token,
        pick,
        rate: opts.rate,
        seconds: opts.seconds,
        rampSeconds: opts.rampSeconds,
        onSteady: steady,
      }),
    );
    const latency = { ...openSample, ...openSeen };
    say(`    ${JSON.stringify(latency)}`);

    const throughput: Record<string, ReturnType<typeof summarise>> = {};
    for (const c of opts.concurrency) {
      say(`(b) closed loop, concurrency ${c}, ${opts.tputSeconds} s ...`);
      const req = makeRequester(baseUrl, token, c);
      throughput[c] = summarise(await closedLoop(req.get, pick, c, opts.tputSeconds));
      req.agent.destroy();
      say(`    ${JSON.stringify(throughput[c])}`);
    }
    // The in-process Node load generator above shares the two cores with the API; wrk (if installed) costs
    // far less CPU per request, the fairer counterpart of pgbench.
    const wrk = findWrk();
    const wrkThroughput: Record<
      string,
      {
        req_per_sec: number;
        non_2xx: number;
        host_steal_pct: number | null;
        lookups_per_statement: number | null;
      }
    > = {};
    if (wrk) {
      for (const c of opts.concurrency) {
        say(`(b) wrk closed loop, ${c} connections, ${opts.tputSeconds} s ...`);
        const seen = await observed(baseUrl, () =>
          wrkClosedLoop(wrk, baseUrl, token, prefix, opts.rows, opts.present, c, opts.tputSeconds),
        );
        if (seen.result) {
          const { host_steal_pct, lookups_per_statement } = seen;
          wrkThroughput[c] = { ...seen.result, host_steal_pct, lookups_per_statement };
          say(`    ${JSON.stringify(wrkThroughput[c])}`);
        }
      }
    } else {
      say('(b) wrk not installed (apt-get install wrk): max throughput from the Node load generator only');
    }
    const bestApi = Math.max(
      ...Object.values(throughput).map((t) => t.req_per_sec),
      ...Object.values(wrkThroughput).map((t) => t.req_per_sec),
    );

    api.kill('SIGTERM');
    await new Promise((r) => api?.once('exit', r));
    api = undefined;

    // The floors (bench/bare-lookup.ts): a bare node:http + pg handler of the same lookup, then the same
    // handler committing each lookup's audit row first (the API's group-commit writer), same load generators.
    const floor = async (withAudit: boolean) => {
      const name = withAudit ? 'bare handler + audit' : 'bare node:http + pg handler';
      const barePort = await freePort();
      const bareUrl = `http://127.0.0.1:${barePort}`;
      bare = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'bench/bare-lookup.ts')], {
        cwd: repoRoot,
        env: {
          ...process.env,
          PORT: String(barePort),
          DATABASE_URL: databaseUrl,
          ...(withAudit ? { BARE_AUDIT_SUB: actor } : {}),
        },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      await waitReady(bareUrl, bare);
      const bareWarm = makeRequester(bareUrl, token, 16);
      await closedLoop(bareWarm.get, pick, 16, 3);
      bareWarm.agent.destroy();
      const reqPerSec: Record<string, number> = {};
      for (const c of opts.concurrency) {
        say(`(c) ${name}, ${c} connections, ${opts.tputSeconds} s ...`);
        const viaWrk = wrk
          ? wrkClosedLoop(wrk, bareUrl, token, prefix, opts.rows, opts.present, c, opts.tputSeconds)
          : null;
        if (viaWrk) reqPerSec[c] = viaWrk.req_per_sec;
        else {
          const req = makeRequester(bareUrl, token, c);
          reqPerSec[c] = summarise(await closedLoop(req.get, pick, c, opts.tputSeconds)).req_per_sec;
          req.agent.destroy();
        }
        say(`    ${reqPerSec[c]} req/s`);
      }
      // The same open loop as (a): the latency this host allows a Node server of the lookup.
      say(`(c) ${name}, open loop at ${opts.rate} req/s for ${opts.seconds} s ...`);
      let cpuBefore = hostCpu();
      const openLoopSeen = {
        ...(await openLoopAt(vegeta, {
          baseUrl: bareUrl,
          token,
          pick,
          rate: opts.rate,
          seconds: opts.seconds,
          rampSeconds: opts.rampSeconds,
          onSteady: async () => {
            cpuBefore = hostCpu();
          },
        })),
        host_steal_pct: stealPct(cpuBefore, hostCpu()),
      };
      say(`    ${JSON.stringify(openLoopSeen)}`);
      bare.kill('SIGTERM');
      await new Promise((r) => bare?.once('exit', r));
      bare = undefined;
      return { reqPerSec, best: Math.max(...Object.values(reqPerSec)), openLoop: openLoopSeen };
    };
    const bareFloor = await floor(false);
    const auditFloor = await floor(true);
    const bareThroughput = bareFloor.reqPerSec;
    const bestBare = bareFloor.best;
    const bareOpen = bareFloor.openLoop;

    const pgTps: Record<string, number> = {};
    for (const c of opts.pgbenchClients) {
      say(`pgbench -c ${c} -j 2 -T ${opts.pgbenchSeconds} -M prepared (same lookup) ...`);
      pgTps[c] = pgbench(databaseUrl, prefix, opts.rows, opts.present, c, opts.pgbenchSeconds);
      say(`    tps ${pgTps[c]?.toFixed(0)}`);
    }
    const bestPg = Math.max(...Object.values(pgTps));
    const ratio = bestApi / bestPg;

    const result = {
      rows: opts.rows,
      cpus: os.cpus().length,
      open_loop: { rate: opts.rate, seconds: opts.seconds, ...latency },
      closed_loop: throughput,
      closed_loop_wrk: wrkThroughput,
      bare_node_pg_req_per_sec: bareThroughput,
      bare_node_pg_open_loop: bareOpen,
      bare_with_audit_req_per_sec: auditFloor.reqPerSec,
      bare_with_audit_open_loop: auditFloor.openLoop,
      pgbench_tps: pgTps,
      api_max_req_per_sec: bestApi,
      bare_node_pg_best_req_per_sec: bestBare,
      pgbench_best_tps: Math.round(bestPg),
      ratio: Math.round(ratio * 1000) / 1000,
      api_vs_bare: Math.round((bestApi / bestBare) * 1000) / 1000,
      api_vs_bare_with_audit: Math.round((bestApi / auditFloor.best) * 1000) / 1000,
      bare_vs_pgbench: Math.round((bestBare / bestPg) * 1000) / 1000,
      targets: {
        'p95 < 10 ms': latency.p95_ms < 10,
        'p99 < 25 ms': latency.p99_ms < 25,
        'ratio >= 0.5': ratio >= 0.5,
      },
    };
    say('\nresult:');
    say(JSON.stringify(result, null, 2));
    say(
      `\nAPI ${bestApi} req/s vs pgbench ${Math.round(bestPg)} tps -> ratio ${result.ratio} ` +
        `(bare node:http + pg: ${bestBare} req/s = ${result.bare_vs_pgbench} x pgbench; API = ${result.api_vs_bare} x bare); ` +
        `open loop ${opts.rate} req/s: p50 ${latency.p50_ms} ms, p95 ${latency.p95_ms} ms, p99 ${latency.p99_ms} ms ` +
        `(${latency.load_generator}; inside the API: p95 ${latency.server_p95_ms ?? '?'} ms, p99 ${latency.server_p99_ms ?? '?'} ms; ` +
        `host steal ${latency.host_steal_pct ?? '?'}%); at the same rate the bare handler: p95 ${bareOpen.p95_ms} ms, ` +
        `p99 ${bareOpen.p99_ms} ms, with its audit row committed first: p95 ${auditFloor.openLoop.p95_ms} ms, ` +
        `p99 ${auditFloor.openLoop.p99_ms} ms, ${auditFloor.best} req/s max`,
    );
    // Steal above a few percent moved every figure here, the floors' too (README, Benchmarks): say so.
    const steal = [latency.host_steal_pct, bareOpen.host_steal_pct, auditFloor.openLoop.host_steal_pct];
    const worst = Math.max(...steal.map((x) => x ?? 0));
    if (worst > NOISY_STEAL_PCT)
      say(
        `note: the host's CPU steal reached ${worst}% in an open loop (API, bare, bare + audit: ${steal.map((x) => x ?? '?').join(' / ')}%); ` +
          'latency figures from such a run are not comparable with a calm one - run again when the host is quieter',
      );
  } finally {
    if (api && api.exitCode === null) api.kill('SIGTERM');
    if (bare && bare.exitCode === null) bare.kill('SIGTERM');
    await oidc.close();
    if (!opts.keep) {
      say("cleaning up seed rows and the run's audit rows ...");
      await cleanup(pool, prefix, actor);
    }
    await pool.end();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(
    `bench:api failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});

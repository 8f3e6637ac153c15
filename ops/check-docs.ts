// Proves the Admin API reference page renders in a real browser: headless Chromium loads <url>/docs,
// swagger-ui (served from swagger-ui-dist, no CDN) fetches /openapi.json and must render operation blocks
// for the three lookup routes - elements that exist only after its JavaScript ran, never in the static
// HTML. A screenshot of the page is written under var/. Run through `bash ops/check-docs` (installs the
// Debian chromium package when missing).
//   --url <base>          the API to check (default http://127.0.0.1:8080; loopback only). When nothing
//                         answers there, an in-process API is started on an ephemeral loopback port.
//   --screenshot <file>   where the PNG goes (default var/check-docs/docs.png)
// Exit 0 when rendered, 1 when not (with what is wrong), 2 on bad arguments.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GroupCommitAuditWriter } from '../api/audit';
import { createDisabledAuthenticator } from '../api/auth';
import { createApi, type Api } from '../api/http';
import { startServer } from '../api/server';
import { env } from '../core/env';
import { createPool } from '../db/pool';

const REQUIRED_PATHS = [
  '/admin/tx/{tx_id}',
  '/admin/payment-orders/{order_id}',
  '/admin/wallets/{wallet_id}/tx',
];
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_TIMEOUT_MS = 60_000;
const SCREENSHOT_SIZE = { width: 1280, height: 2000 };

const say = (msg: string): void => void process.stdout.write(`[check-docs] ${msg}\n`);

class UsageError extends Error {}

interface Options {
  url: string;
  screenshot: string;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { url: 'http://127.0.0.1:8080', screenshot: 'var/check-docs/docs.png' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--url') opts.url = value();
    else if (flag === '--screenshot') opts.screenshot = value();
    else if (flag === '--help' || flag === '-h') {
      process.stdout.write(
        'usage: bash ops/check-docs [--url http://127.0.0.1:8080] [--screenshot file.png]\n',
      );
      process.exit(0);
    } else throw new UsageError(`unknown argument ${arg}`);
  }
  opts.url = loopbackBase(opts.url);
  return opts;
}

/** The URL's origin when it is http(s) on a loopback host; anything else is refused. */
function loopbackBase(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--url ${raw} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`--url must be http(s): ${raw}`);
  const host = url.hostname;
  const loopback = host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  if (!loopback)
    throw new UsageError(`--url must point at a loopback address (127.x, localhost, [::1]): ${raw}`);
  return url.origin;
}

/** True when anything answers HTTP at base (any status); false on refused connection or timeout. */
async function answers(base: string): Promise<boolean> {
  try {
    await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(3000) });
    return true;
  } catch {
    return false;
  }
}

interface InProcessApi {
  url: string;
  stop(): Promise<void>;
}

/** The Admin API as tests/integration/api/support.ts builds it (auth disabled), on an ephemeral port. */
async function startInProcessApi(): Promise<InProcessApi> {
  const db = createPool(undefined, 2);
  const audit = new GroupCommitAuditWriter(db);
  // The OpenAPI servers entry should name the real URL, known only once the port is bound.
  const bound: { api?: Api } = {};
  const delegating: Api = {
    handle: (request, connection) => {
      if (!bound.api) return Promise.resolve(new Response('starting', { status: 503 }));
      return bound.api.handle(request, connection);
    },
  };
  const running = await startServer(delegating, { host: '127.0.0.1', port: 0 });
  bound.api = createApi({
    db,
    audit,
    authenticator: createDisabledAuthenticator(),
    cursorSecret: env().CURSOR_SECRET,
    baseUrl: running.url,
  });
  return {
    url: running.url,
    stop: async () => {
      await running.close();
      await audit.close();
      await db.end();
    },
  };
}

/** Plain HTTP checks that name the broken piece when the browser shows nothing (404 asset, bad JSON...). */
async function checkServedFiles(base: string): Promise<{ problems: string[]; notes: string[] }> {
  const problems: string[] = [];
  const notes: string[] = [];
  const docs = await fetch(`${base}/docs`, { signal: AbortSignal.timeout(10_000) });
  const html = await docs.text();
  const type = docs.headers.get('content-type') ?? '';
  if (docs.status !== 200 || !type.startsWith('text/html')) {
    problems.push(
      `GET /docs answered ${docs.status} ${type} (api/docs.ts docsResponse, routed in api/http.ts)`,
    );
    return { problems, notes };
  }
  const csp = docs.headers.get('content-security-policy');
  if (csp) notes.push(`/docs sends Content-Security-Policy: ${csp}`);
  const refs = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
  let assetsOk = 0;
  for (const ref of refs) {
    const target = new URL(ref, `${base}/docs`);
    if (target.origin !== new URL(base).origin) {
      problems.push(`/docs references ${ref}, not served by the API itself (CDN? must be local)`);
      continue;
    }
    const res = await fetch(target, { signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    if (res.status === 200) assetsOk += 1;
    else
      problems.push(
        `asset ${target.pathname} answered ${res.status} (api/docs.ts ASSETS / swagger-initializer)`,
      );
  }
  const spec = await fetch(`${base}/openapi.json`, { signal: AbortSignal.timeout(10_000) });
  let paths: string[] = [];
  try {
    const body = (await spec.json()) as { paths?: Record<string, unknown> };
    paths = Object.keys(body.paths ?? {});
  } catch {
    // reported below
  }
  if (spec.status !== 200 || paths.length === 0)
    problems.push(
      `GET /openapi.json answered ${spec.status} without a paths object (api/openapi.ts, api/http.ts)`,
    );
  const missing = REQUIRED_PATHS.filter((p) => !paths.includes(p));
  if (paths.length > 0 && missing.length > 0)
    problems.push(`/openapi.json lacks ${missing.join(', ')} (api/openapi.ts)`);
  notes.push(
    `served: /docs 200, ${assetsOk}/${refs.length} assets 200, /openapi.json ${spec.status} (${paths.length} paths)`,
  );
  return { problems, notes };
}

interface ChromiumRun {
  code: number | null;
  stdout: string;
  /** console messages the page logged (errors, failed resource loads, CSP violations...) */
  console: string[];
}

/** One headless Chromium run with a throwaway profile; no network beyond loopback IPs. */
async function runChromium(extraArgs: string[], url: string): Promise<ChromiumRun> {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'check-docs-chromium-'));
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-extensions',
    '--disable-default-apps',
    // Every host except the API's own fails to resolve (IP literals included), so a CDN reference
    // cannot sneak through.
    `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${new URL(url).hostname}`,
    `--user-data-dir=${profile}`,
    '--enable-logging=stderr',
    '--log-level=0',
    '--virtual-time-budget=10000',
    ...extraArgs,
    url,
  ];
  try {
    return await new Promise<ChromiumRun>((resolve, reject) => {
      // Own process group, so a hung browser and its helpers can be killed together by this pid.
      const child = spawn(CHROMIUM, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      const timer = setTimeout(() => {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        reject(new Error(`chromium did not finish within ${CHROMIUM_TIMEOUT_MS / 1000} s`));
      }, CHROMIUM_TIMEOUT_MS);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`cannot start ${CHROMIUM}: ${e.message}`));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        const stderr = Buffer.concat(err).toString('utf8');
        const consoleLines = stderr
          .split('\n')
          .map((l) => /:CONSOLE[^\]]*\] (.*)$/.exec(l)?.[1])
          .filter((l): l is string => l !== undefined);
        resolve({ code, stdout: Buffer.concat(out).toString('utf8'), console: consoleLines });
      });
    });
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

interface RenderedPage {
  operations: { method: string; path: string }[];
  loadError: string | null;
  title: string | null;
}

const decode = (s: string): string =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');

/** What swagger-ui rendered, read from the DOM after its scripts ran. */
function analyseDom(dom: string): RenderedPage {
  const operations = [
    ...dom.matchAll(
      /class="opblock-summary-method"[^>]*>([A-Z]+)<\/span>[\s\S]*?class="opblock-summary-path"[^>]*data-path="([^"]*)"/g,
    ),
  ].map((m) => ({ method: m[1] as string, path: decode(m[2] as string) }));
  const errorBlock = /class="[^"]*errors-wrapper[^"]*"[\s\S]{0,2000}/.exec(dom)?.[0];
  const failedLoad = /Failed to load API definition[\s\S]{0,300}/.exec(dom)?.[0];
  const strip = (s: string): string =>
    decode(s.replace(/<[^>]+>/g, ' '))
      .replace(/\s+/g, ' ')
      .trim();
  const loadError = failedLoad ? strip(failedLoad) : errorBlock ? strip(errorBlock).slice(0, 300) : null;
  const titleMatch = /<h[12] class="title"[^>]*>([^<]*)/.exec(dom);
  return { operations, loadError, title: titleMatch ? strip(titleMatch[1] as string) : null };
}

/** Width and height from a PNG's IHDR chunk, or null when the bytes are not a PNG. */
function pngSize(bytes: Buffer): { width: number; height: number } | null {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (bytes.length < 24 || !bytes.subarray(0, 8).equals(signature)) return null;
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

async function check(base: string, screenshotPath: string): Promise<string[]> {
  const problems: string[] = [];

  const served = await checkServedFiles(base);
  served.notes.forEach(say);
  problems.push(...served.problems);

  const dumpRun = await runChromium(['--dump-dom'], `${base}/docs`);
  const domPath = path.join(path.dirname(screenshotPath), 'docs-dom.html');
  await writeFile(domPath, dumpRun.stdout);
  if (dumpRun.code !== 0) problems.push(`chromium --dump-dom exited ${dumpRun.code}`);
  const page = analyseDom(dumpRun.stdout);
  const rendered = new Set(page.operations.map((o) => o.path));
  say(
    `rendered by swagger-ui: "${page.title ?? '(no title)'}", ${page.operations.length} operation blocks: ` +
      page.operations.map((o) => `${o.method} ${o.path}`).join(', '),
  );
  if (page.loadError) problems.push(`swagger-ui shows an error: ${page.loadError}`);
  const notRendered = REQUIRED_PATHS.filter((p) => !rendered.has(p));
  if (notRendered.length > 0)
    problems.push(
      `no rendered operation block for ${notRendered.join(', ')} (DOM saved at ${path.resolve(domPath)})`,
    );
  const consoleProblems = dumpRun.console.filter((l) =>
    /Uncaught|Failed to load resource|Content Security Policy|Refused to/i.test(l),
  );
  for (const l of consoleProblems) problems.push(`browser console: ${l}`);

  const shotRun = await runChromium(
    [
      `--screenshot=${screenshotPath}`,
      `--window-size=${SCREENSHOT_SIZE.width},${SCREENSHOT_SIZE.height}`,
      '--hide-scrollbars',
    ],
    `${base}/docs`,
  );
  let png: Buffer | null = null;
  try {
    png = await readFile(screenshotPath);
  } catch {
    problems.push(`chromium --screenshot (exit ${shotRun.code}) wrote no file at ${screenshotPath}`);
  }
  if (png) {
    const size = pngSize(png);
    if (!size) problems.push(`${screenshotPath} is not a PNG`);
    else
      say(
        `screenshot: ${path.resolve(screenshotPath)} (${size.width}x${size.height}, ${Math.round(png.length / 1024)} KiB)`,
      );
  }
  return problems;
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`[check-docs] ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const screenshotPath = path.resolve(opts.screenshot);
  await mkdir(path.dirname(screenshotPath), { recursive: true });
  await rm(screenshotPath, { force: true }); // a stale PNG must not pass for a fresh one

  let base = opts.url;
  let inProcess: InProcessApi | null = null;
  if (await answers(base)) {
    say(`checking the API already answering at ${base}`);
  } else {
    inProcess = await startInProcessApi();
    base = inProcess.url;
    say(`nothing answers at ${opts.url}; started an in-process API at ${base}`);
  }

  let problems: string[];
  try {
    problems = await check(base, screenshotPath);
  } catch (err) {
    problems = [(err as Error).message];
  } finally {
    await inProcess?.stop();
  }

  if (problems.length > 0) {
    process.stderr.write(`[check-docs] FAILED: ${base}/docs did not render properly:\n`);
    for (const p of problems) process.stderr.write(`  - ${p}\n`);
    return 1;
  }
  say(`OK: ${base}/docs renders the API reference with ${REQUIRED_PATHS.join(', ')}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[check-docs] FAILED: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);

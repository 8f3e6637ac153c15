// A development OIDC issuer: enough of one to exercise AUTH_MODE=oidc locally, in tests and in the
// benchmark. It publishes a JWKS (`/.well-known/jwks.json`) and discovery document
// (`/.well-known/openid-configuration`) and mints RS256 tokens. Keys can be persisted in a directory
// (the CLI uses var/dev-oidc/) so tokens survive restarts; `rotate` adds a new kid (the newest signs;
// the previous ones stay published so tokens already issued keep verifying).
//
//   npm run dev-oidc -- serve                       # http://127.0.0.1:${DEV_OIDC_PORT:-8090}
//   npm run dev-oidc -- mint --sub alice --roles ADMIN_READ[,ADMIN_AUDIT] [--ttl 3600] [--aud tx-lookup]
//   npm run dev-oidc -- rotate
//
// Tests use startDevOidc({ port: 0 }) (ephemeral port, keys in memory) with the same code.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';

export const DEV_AUDIENCE = 'tx-lookup';
const ALG = 'RS256';
/** Published keys after a rotation: the newest signs, older ones still verify. */
const KEEP_KEYS = 3;

interface StoredKey {
  kid: string;
  createdAt: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

interface KeyFile {
  keys: StoredKey[];
}

async function newKey(): Promise<StoredKey> {
  const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true, modulusLength: 2048 });
  const kid = `dev-${new Date().toISOString().slice(0, 10)}-${randomBytes(4).toString('hex')}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: ALG, use: 'sig' };
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: ALG };
  return { kid, createdAt: new Date().toISOString(), privateJwk, publicJwk };
}

/** Keys in memory, optionally mirrored to `<dir>/keys.json` (written atomically, mode 0600). */
class KeyStore {
  private keys: StoredKey[] = [];
  private loadedMtimeMs = 0;
  private signingKeys = new Map<string, CryptoKey | Uint8Array>();

  constructor(private readonly dir: string | null) {}

  private get file(): string | null {
    return this.dir === null ? null : path.join(this.dir, 'keys.json');
  }

  /** Load from disk (picking up a `rotate` done by another process) or create the first key. */
  async refresh(): Promise<void> {
    const file = this.file;
    if (file !== null) {
      let mtimeMs = -1;
      try {
        mtimeMs = statSync(file).mtimeMs;
      } catch {
        // no file yet
      }
      if (mtimeMs >= 0 && mtimeMs !== this.loadedMtimeMs) {
        const parsed = JSON.parse(readFileSync(file, 'utf8')) as KeyFile;
        if (!Array.isArray(parsed.keys) || parsed.keys.length === 0) throw new Error(`${file}: no keys`);
        this.keys = parsed.keys;
        this.loadedMtimeMs = mtimeMs;
      }
    }
    if (this.keys.length === 0) {
      this.keys = [await newKey()];
      this.persist();
    }
  }

  private persist(): void {
    const file = this.file;
    if (file === null || this.dir === null) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ keys: this.keys } satisfies KeyFile, null, 2), { mode: 0o600 });
    renameSync(tmp, file);
    this.loadedMtimeMs = statSync(file).mtimeMs;
  }

  async rotate(): Promise<string> {
    await this.refresh();
    const key = await newKey();
    this.keys = [...this.keys, key].slice(-KEEP_KEYS);
    this.persist();
    return key.kid;
  }

  current(): StoredKey {
    const key = this.keys[this.keys.length - 1];
    if (!key) throw new Error('key store is empty');
    return key;
  }

  find(kid: string): StoredKey | undefined {
    return this.keys.find((k) => k.kid === kid);
  }

  jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((k) => k.publicJwk) };
  }

  async signingKey(key: StoredKey): Promise<CryptoKey | Uint8Array> {
    let imported = this.signingKeys.get(key.kid);
    if (!imported) {
      imported = await importJWK(key.privateJwk, ALG);
      this.signingKeys.set(key.kid, imported);
    }
    return imported;
  }
}

export interface MintOptions {
  /** Lifetime in seconds (default 3600). Ignored when expiresAt is given. */
  ttlSec?: number;
  /** Absolute exp / nbf / iat (epoch seconds) - for expired / not-yet-valid test tokens; exp null = none. */
  expiresAt?: number | null;
  notBefore?: number;
  issuedAt?: number;
  issuer?: string;
  audience?: string | string[];
  /** Sign with this (published) kid instead of the newest. */
  kid?: string;
}

export interface DevOidc {
  /** Base URL of the issuer, e.g. http://127.0.0.1:8090 (also the `iss` of minted tokens). */
  issuer: string;
  jwksUrl: string;
  audience: string;
  /** A signed RS256 JWT with `claims` (sub, roles, ... as given) plus iss, aud, iat, exp. */
  mint(claims: JWTPayload, opts?: MintOptions): Promise<string>;
  /** Add a new signing key; returns its kid. */
  rotate(): Promise<string>;
  currentKid(): string;
  /** SPKI PEM of a published public key (the newest by default). */
  publicKeyPem(kid?: string): Promise<string>;
  close(): Promise<void>;
}

async function mintWith(
  store: KeyStore,
  issuer: string,
  audience: string,
  claims: JWTPayload,
  opts: MintOptions = {},
): Promise<string> {
  await store.refresh();
  const key = opts.kid ? store.find(opts.kid) : store.current();
  if (!key) throw new Error(`unknown kid ${opts.kid}`);
  const now = Math.floor(Date.now() / 1000);
  const iat = opts.issuedAt ?? now;
  const jwt = new SignJWT({ ...claims })
    .setProtectedHeader({ alg: ALG, kid: key.kid, typ: 'JWT' })
    .setIssuer(opts.issuer ?? issuer)
    .setAudience(opts.audience ?? audience)
    .setIssuedAt(iat);
  if (opts.expiresAt !== null) jwt.setExpirationTime(opts.expiresAt ?? iat + (opts.ttlSec ?? 3600));
  if (opts.notBefore !== undefined) jwt.setNotBefore(opts.notBefore);
  return jwt.sign(await store.signingKey(key));
}

export interface StartDevOidcOptions {
  /** 0 = ephemeral. */
  port: number;
  host?: string;
  /** Persist keys here (the CLI uses var/dev-oidc); omitted = in memory only. */
  keyDir?: string;
  /** Defaults to http://<host>:<port>. */
  issuer?: string;
  audience?: string;
}

export async function startDevOidc(opts: StartDevOidcOptions): Promise<DevOidc> {
  const host = opts.host ?? '127.0.0.1';
  const audience = opts.audience ?? DEV_AUDIENCE;
  const store = new KeyStore(opts.keyDir ?? null);
  await store.refresh();

  let issuer = opts.issuer ?? '';
  const server = http.createServer((req, res) => {
    const pathname = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return send(405, { error: 'method not allowed' });
    if (pathname === '/.well-known/jwks.json') {
      store.refresh().then(
        () => send(200, store.jwks()),
        (err: unknown) => send(500, { error: String(err) }),
      );
      return;
    }
    if (pathname === '/.well-known/openid-configuration') {
      return send(200, {
        issuer,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        id_token_signing_alg_values_supported: [ALG],
        subject_types_supported: ['public'],
        response_types_supported: ['token'],
      });
    }
    send(404, { error: 'not found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  issuer ||= `http://${host}:${port}`;
  const base = `http://${host}:${port}`;

  return {
    issuer,
    jwksUrl: `${base}/.well-known/jwks.json`,
    audience,
    mint: (claims, mintOpts) => mintWith(store, issuer, audience, claims, mintOpts),
    rotate: () => store.rotate(),
    currentKid: () => store.current().kid,
    publicKeyPem: async (kid) => {
      const key = kid ? store.find(kid) : store.current();
      if (!key) throw new Error(`unknown kid ${kid}`);
      return exportSPKI((await importJWK(key.publicJwk, ALG)) as CryptoKey);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// --- CLI -------------------------------------------------------------------------------------------

const DEFAULT_KEY_DIR = 'var/dev-oidc';

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
  return v;
}

async function cli(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  const port = Number(process.env.DEV_OIDC_PORT ?? 8090);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error('DEV_OIDC_PORT must be a port number');
  const keyDir = argValue(args, '--dir') ?? DEFAULT_KEY_DIR;
  const issuer = `http://127.0.0.1:${port}`;
  switch (command) {
    case 'serve': {
      const oidc = await startDevOidc({ port, keyDir, issuer });
      process.stdout.write(
        `${JSON.stringify({ msg: 'dev oidc issuer listening', issuer: oidc.issuer, jwks_url: oidc.jwksUrl, kid: oidc.currentKid() })}\n`,
      );
      const stop = (): void => void oidc.close().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      return;
    }
    case 'mint': {
      const sub = argValue(args, '--sub');
      if (!sub) throw new Error('mint needs --sub <subject>');
      const roles = (argValue(args, '--roles') ?? '')
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean);
      const ttl = Number(argValue(args, '--ttl') ?? 3600);
      if (!Number.isInteger(ttl) || ttl <= 0) throw new Error('--ttl must be a positive number of seconds');
      const store = new KeyStore(keyDir);
      const token = await mintWith(
        store,
        issuer,
        argValue(args, '--aud') ?? DEV_AUDIENCE,
        { sub, roles },
        { ttlSec: ttl },
      );
      process.stdout.write(`${token}\n`);
      return;
    }
    case 'rotate': {
      const kid = await new KeyStore(keyDir).rotate();
      process.stdout.write(`${JSON.stringify({ msg: 'rotated', kid })}\n`);
      return;
    }
    default:
      process.stderr.write(
        'usage: dev-oidc serve | mint --sub <sub> --roles ADMIN_READ[,ADMIN_AUDIT] [--ttl 3600] [--aud tx-lookup] | rotate  [--dir var/dev-oidc]\n',
      );
      process.exit(2);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  cli(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`dev-oidc: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

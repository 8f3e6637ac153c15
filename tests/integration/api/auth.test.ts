// AUTH_MODE=oidc end to end: the dev issuer on an ephemeral port, the JWT attack set, roles and
// masking, 401/403 kept out of the audit table (but in the log and the metric), key rotation by kid,
// and the typed tRPC client plus REST over a real listening socket.
import { SignJWT, UnsecuredJWT } from 'jose';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuditSink } from '../../../api/audit';
import { createOidcAuthenticator, type OidcConfig } from '../../../api/auth';
import { createAdminClient } from '../../../api/client';
import type { Api } from '../../../api/http';
import { startServer, type RunningServer } from '../../../api/server';
import { registry } from '../../../core/metrics';
import { startDevOidc, type DevOidc } from '../../../ops/dev-oidc';
import {
  auditRowsFor,
  buildApi,
  get,
  insertEntries,
  insertOrder,
  rid,
  setupPools,
  trpcPath,
  uniquePrefix,
} from './support';

const P = uniquePrefix('auth');
const COOLDOWN_SEC = 2;
let db: pg.Pool;
let auditPool: pg.Pool;
let oidc: DevOidc;
let rogue: DevOidc; // same issuer name, keys nobody published
let api: Api;
let audit: AuditSink;
let config: OidcConfig;

const now = (): number => Math.floor(Date.now() / 1000);
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const TX = `${P}tx-1`;
const ORDER = `${P}ord-1`;

async function authFailures(reason: string): Promise<number> {
  const metric = await registry.getSingleMetric('api_auth_failures_total')?.get();
  return metric?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

beforeAll(async () => {
  ({ db, auditPool } = await setupPools());
  oidc = await startDevOidc({ port: 0 });
  rogue = await startDevOidc({ port: 0, issuer: oidc.issuer });
  config = {
    jwksUrl: oidc.jwksUrl,
    issuer: oidc.issuer,
    audience: oidc.audience,
    rolesClaim: 'roles',
    clockSkewSec: 30,
    jwksCooldownSec: COOLDOWN_SEC,
    jwksCacheMaxAgeSec: 600,
  };
  ({ api, audit } = buildApi({ db, auditPool, authenticator: createOidcAuthenticator(config) }));
  await insertOrder(db, {
    order_id: ORDER,
    payer_wallet_id: 'w-1234567889',
    payee_wallet_id: 'w-9876543210',
  });
  await insertEntries(db, [
    { tx_id: TX, wallet_id: `${P}w`, related_id: ORDER, event_time: '2026-02-24T10:00:00Z' },
  ]);
});

afterAll(async () => {
  await audit.close();
  await oidc.close();
  await rogue.close();
  await db.end();
  await auditPool.end();
});

describe('valid tokens', () => {
  it('ADMIN_READ reads, with payer/payee masked; ADMIN_AUDIT sees them in clear', async () => {
    const reader = await oidc.mint({ sub: 'alice', roles: ['ADMIN_READ'] });
    const r = await get(api, `/admin/payment-orders/${ORDER}`, bearer(reader));
    expect(r.status).toBe(200);
    expect(r.body.payer_wallet_id).toBe('w-12****89');
    expect(r.body.payee_wallet_id).toBe('w-98****10');

    const auditor = await oidc.mint({ sub: 'bob', roles: ['ADMIN_AUDIT'] });
    const a = await get(api, `/admin/payment-orders/${ORDER}`, bearer(auditor));
    expect(a.body.payer_wallet_id).toBe('w-1234567889');
    expect(a.body.payee_wallet_id).toBe('w-9876543210');

    const tx = await get(api, `/admin/tx/${TX}`, bearer(reader));
    expect(tx.status).toBe(200);
    expect(tx.body.tx_id).toBe(TX);
  });

  it('records the token subject and roles in the audit row, never the token', async () => {
    const token = await oidc.mint({ sub: 'carol', roles: ['ADMIN_READ', 'OTHER'] });
    const id = rid('auth-audit');
    expect((await get(api, `/admin/tx/${TX}`, { ...bearer(token), 'x-request-id': id })).status).toBe(200);
    const rows = await auditRowsFor(db, id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ sub: 'carol', actor_roles: ['ADMIN_READ', 'OTHER'] });
    expect(JSON.stringify(rows[0])).not.toContain(token.split('.')[2]);
  });

  it('tolerates clock skew within OIDC_CLOCK_SKEW_SEC', async () => {
    const justExpired = await oidc.mint(
      { sub: 'a', roles: ['ADMIN_READ'] },
      { issuedAt: now() - 100, expiresAt: now() - 10 },
    );
    expect((await get(api, `/admin/tx/${TX}`, bearer(justExpired))).status).toBe(200);
    const almostValid = await oidc.mint({ sub: 'a', roles: ['ADMIN_READ'] }, { notBefore: now() + 10 });
    expect((await get(api, `/admin/tx/${TX}`, bearer(almostValid))).status).toBe(200);
  });

  it('reads roles from a dotted claim path when configured', async () => {
    const { api: keycloakApi, audit: keycloakAudit } = buildApi({
      db,
      auditPool,
      authenticator: createOidcAuthenticator({ ...config, rolesClaim: 'realm_access.roles' }),
    });
    try {
      const nested = await oidc.mint({ sub: 'kc', realm_access: { roles: ['ADMIN_READ'] } });
      expect((await get(keycloakApi, `/admin/tx/${TX}`, bearer(nested))).status).toBe(200);
      const topLevel = await oidc.mint({ sub: 'kc', roles: ['ADMIN_READ'] });
      expect((await get(keycloakApi, `/admin/tx/${TX}`, bearer(topLevel))).status).toBe(403);
    } finally {
      await keycloakAudit.close();
    }
  });
});

describe('the JWT attack set', () => {
  const claims = { sub: 'mallory', roles: ['ADMIN_READ', 'ADMIN_AUDIT'] };

  async function expectRejected(token: string | null, status: 401 | 403, reason: string): Promise<void> {
    const id = rid(`attack-${reason}`);
    const before = await authFailures(reason);
    const headers: Record<string, string> = { 'x-request-id': id, ...(token === null ? {} : bearer(token)) };
    for (const path of [`/admin/tx/${TX}`, trpcPath('admin.tx.get', { tx_id: TX })]) {
      const r = await get(api, path, headers);
      expect(r.status, `${reason} ${path}`).toBe(status);
      if (path.startsWith('/admin')) {
        expect(r.body).toEqual({
          code: status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN',
          message: expect.any(String),
          request_id: id,
        });
      } else {
        expect(r.body.error.data.code).toBe(status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN');
      }
      if (status === 401) expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
      else expect(r.headers.get('www-authenticate')).toBeNull();
      expect(r.headers.get('x-request-id')).toBe(id);
      expect(JSON.stringify(r.body)).not.toContain(TX.slice(-6) + '","wallet'); // no data
    }
    expect(await authFailures(reason)).toBe(before + 2);
    expect(await auditRowsFor(db, id)).toEqual([]); // 401/403 are never audited in the DB
  }

  it('missing header -> 401', async () => {
    await expectRejected(null, 401, 'missing_token');
  });

  it('not a bearer token -> 401', async () => {
    const id = rid('basic');
    const r = await get(api, `/admin/tx/${TX}`, { authorization: 'Basic YWxpY2U6cHc=', 'x-request-id': id });
    expect(r.status).toBe(401);
    expect(await auditRowsFor(db, id)).toEqual([]);
  });

  it('alg none -> 401', async () => {
    const token = new UnsecuredJWT(claims)
      .setIssuer(oidc.issuer)
      .setAudience(oidc.audience)
      .setExpirationTime('1h')
      .encode();
    await expectRejected(token, 401, 'alg_not_allowed');
  });

  it('HS256 signed with the RSA public key as the secret -> 401', async () => {
    const pem = await oidc.publicKeyPem();
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: oidc.currentKid() })
      .setIssuer(oidc.issuer)
      .setAudience(oidc.audience)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(pem));
    await expectRejected(token, 401, 'alg_not_allowed');
  });

  it('expired beyond the skew -> 401', async () => {
    await expectRejected(
      await oidc.mint(claims, { issuedAt: now() - 3600, expiresAt: now() - 120 }),
      401,
      'expired',
    );
  });

  it('not yet valid beyond the skew -> 401', async () => {
    await expectRejected(await oidc.mint(claims, { notBefore: now() + 300 }), 401, 'not_yet_valid');
  });

  it('wrong issuer -> 401', async () => {
    await expectRejected(await oidc.mint(claims, { issuer: 'http://evil.example' }), 401, 'bad_issuer');
  });

  it('wrong audience -> 401', async () => {
    await expectRejected(await oidc.mint(claims, { audience: 'another-service' }), 401, 'bad_audience');
  });

  it('no exp claim (a token that never expires) -> 401', async () => {
    await expectRejected(await oidc.mint(claims, { expiresAt: null }), 401, 'invalid_claims');
  });

  it('unknown kid (a key the issuer never published) -> 401', async () => {
    await expectRejected(await rogue.mint(claims), 401, 'unknown_kid');
  });

  it('tampered payload (roles escalated, signature kept) -> 401', async () => {
    const token = await oidc.mint({ sub: 'mallory', roles: [] });
    const [h, p, s] = token.split('.') as [string, string, string];
    const payload = { ...JSON.parse(Buffer.from(p, 'base64url').toString()), roles: ['ADMIN_AUDIT'] };
    await expectRejected(
      `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`,
      401,
      'bad_signature',
    );
  });

  it('garbage token -> 401', async () => {
    await expectRejected('bm90IGpzb24.bm90IGpzb24.c2ln', 401, 'malformed_token'); // header is not JSON
  });

  it('valid token without a role -> 403', async () => {
    await expectRejected(await oidc.mint({ sub: 'nobody' }), 403, 'no_role');
    await expectRejected(
      await oidc.mint({ sub: 'nobody', roles: ['SOMETHING_ELSE', 'admin_read'] }),
      403,
      'no_role',
    );
  });

  it('roles in the wrong claim -> 403', async () => {
    await expectRejected(await oidc.mint({ sub: 'grp', groups: ['ADMIN_READ'] }), 403, 'no_role');
  });

  it('logs the reason and request id of a rejection, never the token', async () => {
    const token = await oidc.mint(claims, { audience: 'nope' });
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      await get(api, `/admin/tx/${TX}`, { ...bearer(token), 'x-request-id': 'log-check-1' });
    } finally {
      spy.mockRestore();
    }
    const entry = lines.map((l) => JSON.parse(l)).find((l) => l.request_id === 'log-check-1');
    expect(entry).toMatchObject({
      level: 'warn',
      component: 'api.auth',
      reason: 'bad_audience',
      status: 401,
    });
    expect(lines.join('')).not.toContain(token);
    expect(lines.join('')).not.toContain(token.split('.')[2]);
  });
});

describe('JWKS key rotation', () => {
  it('accepts a token signed by a newly rotated kid once the refetch cooldown allows', async () => {
    // warm the cache with the current key
    expect(
      (await get(api, `/admin/tx/${TX}`, bearer(await oidc.mint({ sub: 'r', roles: ['ADMIN_READ'] }))))
        .status,
    ).toBe(200);
    const oldToken = await oidc.mint({ sub: 'r', roles: ['ADMIN_READ'] });
    const newKid = await oidc.rotate();
    const fresh = await oidc.mint({ sub: 'r', roles: ['ADMIN_READ'] });
    expect(JSON.parse(Buffer.from(fresh.split('.')[0]!, 'base64url').toString()).kid).toBe(newKid);
    await new Promise((resolve) => setTimeout(resolve, COOLDOWN_SEC * 1000 + 200));
    expect((await get(api, `/admin/tx/${TX}`, bearer(fresh))).status).toBe(200);
    // tokens of the previous key keep working
    expect((await get(api, `/admin/tx/${TX}`, bearer(oldToken))).status).toBe(200);
  });

  it('answers 503 (not 401) when the issuer keys cannot be fetched', async () => {
    const { api: offline, audit: offlineAudit } = buildApi({
      db,
      auditPool,
      authenticator: createOidcAuthenticator({
        ...config,
        jwksUrl: 'http://127.0.0.1:1/.well-known/jwks.json',
      }),
    });
    try {
      const r = await get(
        offline,
        `/admin/tx/${TX}`,
        bearer(await oidc.mint({ sub: 'a', roles: ['ADMIN_READ'] })),
      );
      expect(r.status).toBe(503);
      expect(r.body.code).toBe('SERVICE_UNAVAILABLE');
    } finally {
      await offlineAudit.close();
    }
  });
});

describe('over a real socket', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(api, { host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await server.close();
  });

  it('serves REST with keep-alive and records the socket client ip', async () => {
    const token = await oidc.mint({ sub: 'socket', roles: ['ADMIN_READ'] });
    const id = rid('socket');
    const res = await fetch(`${server.url}/admin/tx/${TX}`, {
      headers: { ...bearer(token), 'x-request-id': id },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(id);
    expect(((await res.json()) as { tx_id: string }).tx_id).toBe(TX);
    const rows = await auditRowsFor(db, id);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.client_ip).toMatch(/127\.0\.0\.1/);

    const unauth = await fetch(`${server.url}/admin/tx/${TX}`);
    expect(unauth.status).toBe(401);
    expect(unauth.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await unauth.json()).toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('works with the typed tRPC client (batched calls)', async () => {
    const client = createAdminClient({
      url: server.url,
      token: await oidc.mint({ sub: 'typed', roles: ['ADMIN_READ'] }),
    });
    const [entry, order, page] = await Promise.all([
      client.admin.tx.get.query({ tx_id: TX }),
      client.admin.paymentOrders.get.query({ order_id: ORDER }),
      client.admin.wallets.listTx.query({ wallet_id: `${P}w`, limit: 5 }),
    ]);
    expect(entry.tx_id).toBe(TX);
    expect(order.payer_wallet_id).toBe('w-12****89');
    expect(page.items.map((e) => e.tx_id)).toEqual([TX]);
    await expect(client.admin.tx.get.query({ tx_id: `${P}missing` })).rejects.toMatchObject({
      data: { code: 'NOT_FOUND' },
    });

    const anonymous = createAdminClient({ url: server.url });
    await expect(anonymous.admin.tx.get.query({ tx_id: TX })).rejects.toMatchObject({
      data: { code: 'UNAUTHORIZED' },
    });
  });
});

import { describe, expect, it } from 'vitest';
import { ConfigError, loadEnv } from '../../../core/env';
import { authenticatorFromEnv, mayRead, rolesFromClaims } from '../../../api/auth';
import { formatIssues, publicErrorCode } from '../../../api/errors';
import { requestIdFrom } from '../../../api/http';

describe('rolesFromClaims', () => {
  it('reads a top-level array, a dotted path, and a space/comma separated string', () => {
    expect(rolesFromClaims({ roles: ['ADMIN_READ', 7, ''] }, 'roles')).toEqual(['ADMIN_READ']);
    expect(rolesFromClaims({ realm_access: { roles: ['ADMIN_AUDIT'] } }, 'realm_access.roles')).toEqual([
      'ADMIN_AUDIT',
    ]);
    expect(rolesFromClaims({ scope: 'ADMIN_READ other,x' }, 'scope')).toEqual(['ADMIN_READ', 'other', 'x']);
  });
  it('gives no roles for a missing or odd-shaped claim', () => {
    expect(rolesFromClaims({ groups: ['ADMIN_READ'] }, 'roles')).toEqual([]);
    expect(rolesFromClaims({ realm_access: ['ADMIN_READ'] }, 'realm_access.roles')).toEqual([]);
    expect(rolesFromClaims({ roles: { ADMIN_READ: true } }, 'roles')).toEqual([]);
  });
});

describe('mayRead', () => {
  it('needs ADMIN_READ or ADMIN_AUDIT', () => {
    expect(mayRead(['ADMIN_READ'])).toBe(true);
    expect(mayRead(['ADMIN_AUDIT'])).toBe(true);
    expect(mayRead(['admin_read', 'ADMIN'])).toBe(false);
    expect(mayRead([])).toBe(false);
  });
});

describe('auth configuration', () => {
  it('disabled mode gives the local principal; prod refuses disabled', async () => {
    const a = authenticatorFromEnv(loadEnv({ APP_ENV: 'local' }));
    expect(a.mode).toBe('disabled');
    expect(await a.authenticate(null)).toEqual({
      ok: true,
      principal: { sub: 'local-dev', roles: ['ADMIN_READ', 'ADMIN_AUDIT'] },
    });
    expect(() => loadEnv({ APP_ENV: 'prod', AUTH_MODE: 'disabled' })).toThrow(ConfigError);
  });
  it('oidc mode refuses a missing or malformed Authorization header without calling the issuer', async () => {
    const a = authenticatorFromEnv(
      loadEnv({
        AUTH_MODE: 'oidc',
        OIDC_JWKS_URL: 'http://127.0.0.1:9/jwks',
        OIDC_ISSUER: 'x',
        OIDC_AUDIENCE: 'y',
      }),
    );
    expect(await a.authenticate(null)).toMatchObject({ ok: false, reason: 'missing_token', status: 401 });
    expect(await a.authenticate('Basic dXNlcjpwYXNz')).toMatchObject({
      ok: false,
      reason: 'malformed_header',
    });
    expect(await a.authenticate('Bearer not-a-jwt')).toMatchObject({ ok: false, reason: 'malformed_header' });
  });
});

describe('request ids and errors', () => {
  it('echoes sane request ids and replaces others', () => {
    expect(requestIdFrom('abc-123:x.y_z')).toBe('abc-123:x.y_z');
    for (const bad of [null, '', 'a b', 'x'.repeat(129), "1'; DROP", 'é']) {
      const id = requestIdFrom(bad);
      expect(id).not.toBe(bad);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
  it('folds tRPC codes onto the public set and formats issues', () => {
    expect(publicErrorCode('PARSE_ERROR')).toBe('BAD_REQUEST');
    expect(publicErrorCode('TIMEOUT')).toBe('SERVICE_UNAVAILABLE');
    expect(publicErrorCode('whatever')).toBe('INTERNAL_SERVER_ERROR');
    expect(formatIssues([{ path: ['tx_id'], message: 'must be x' }])).toBe('tx_id: must be x');
    expect(formatIssues([])).toBeNull();
  });
});

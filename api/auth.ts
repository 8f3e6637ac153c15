// Who is calling (SPEC §4.3): AUTH_MODE=disabled gives a fixed local principal; AUTH_MODE=oidc verifies a
// Bearer JWT with jose against the issuer's JWKS (cached; an unknown kid refetches at most once per
// cooldown), the configured issuer and audience, a bounded clock skew and asymmetric algorithms only.
// The authenticator only answers "who"; the tRPC middleware decides "may read" and records failures.
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Env } from '../core/env';

export interface Principal {
  sub: string;
  roles: string[];
}

/** Roles that may call the read endpoints. */
export const READ_ROLES = ['ADMIN_READ', 'ADMIN_AUDIT'] as const;

export function mayRead(roles: readonly string[]): boolean {
  return roles.some((r) => (READ_ROLES as readonly string[]).includes(r));
}

export const LOCAL_PRINCIPAL: Readonly<Principal> = Object.freeze({
  sub: 'local-dev',
  roles: ['ADMIN_READ', 'ADMIN_AUDIT'],
});

/** Only asymmetric signatures: an HS* token signed with a public key as the secret is refused. */
export const ALLOWED_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

export type AuthFailureReason =
  | 'missing_token'
  | 'malformed_header'
  | 'malformed_token'
  | 'alg_not_allowed'
  | 'unknown_kid'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_issuer'
  | 'bad_audience'
  | 'invalid_claims'
  | 'missing_sub'
  | 'jwks_unavailable'
  | 'no_role';

export type AuthOutcome =
  | { ok: true; principal: Principal }
  | { ok: false; reason: AuthFailureReason; status: 401 | 503; message: string };

export interface Authenticator {
  readonly mode: 'disabled' | 'oidc';
  /** `authorization` is the raw Authorization header (null when absent). Never throws. */
  authenticate(authorization: string | null): Promise<AuthOutcome>;
}

export function createDisabledAuthenticator(): Authenticator {
  const outcome: AuthOutcome = {
    ok: true,
    principal: { sub: LOCAL_PRINCIPAL.sub, roles: [...LOCAL_PRINCIPAL.roles] },
  };
  return { mode: 'disabled', authenticate: () => Promise.resolve(outcome) };
}

export interface OidcConfig {
  jwksUrl: string;
  issuer: string;
  audience: string;
  /** Claim holding the roles; a dotted path such as `realm_access.roles` walks nested objects. */
  rolesClaim: string;
  clockSkewSec: number;
  /** Minimum time between JWKS refetches triggered by an unknown kid. */
  jwksCooldownSec: number;
  jwksCacheMaxAgeSec: number;
}

export function oidcConfigFromEnv(e: Env): OidcConfig {
  if (!e.OIDC_JWKS_URL || !e.OIDC_ISSUER || !e.OIDC_AUDIENCE) {
    throw new Error('AUTH_MODE=oidc needs OIDC_JWKS_URL, OIDC_ISSUER and OIDC_AUDIENCE');
  }
  return {
    jwksUrl: e.OIDC_JWKS_URL,
    issuer: e.OIDC_ISSUER,
    audience: e.OIDC_AUDIENCE,
    rolesClaim: e.OIDC_ROLES_CLAIM,
    clockSkewSec: e.OIDC_CLOCK_SKEW_SEC,
    jwksCooldownSec: e.OIDC_JWKS_COOLDOWN_SEC,
    jwksCacheMaxAgeSec: e.OIDC_JWKS_CACHE_MAX_AGE_SEC,
  };
}

export function authenticatorFromEnv(e: Env): Authenticator {
  return e.AUTH_MODE === 'disabled'
    ? createDisabledAuthenticator()
    : createOidcAuthenticator(oidcConfigFromEnv(e));
}

/** Roles from `payload` at the dotted `claimPath`: an array of strings, or a space/comma separated string. */
export function rolesFromClaims(payload: Record<string, unknown>, claimPath: string): string[] {
  let value: unknown = payload;
  for (const key of claimPath.split('.')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
    value = (value as Record<string, unknown>)[key];
  }
  if (Array.isArray(value)) return value.filter((r): r is string => typeof r === 'string' && r.length > 0);
  if (typeof value === 'string') return value.split(/[\s,]+/).filter(Boolean);
  return [];
}

const BEARER = /^Bearer +([A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_=]*\.[A-Za-z0-9\-_=+/]*)\s*$/i;

function fail(reason: AuthFailureReason, message: string, status: 401 | 503 = 401): AuthOutcome {
  return { ok: false, reason, status, message };
}

/** Verified tokens are remembered this long at most (and never past their exp). */
const VERIFIED_CACHE_TTL_MS = 60_000;
const VERIFIED_CACHE_MAX = 10_000;

export function createOidcAuthenticator(cfg: OidcConfig): Authenticator {
  const jwks = createRemoteJWKSet(new URL(cfg.jwksUrl), {
    cooldownDuration: cfg.jwksCooldownSec * 1000,
    cacheMaxAge: cfg.jwksCacheMaxAgeSec * 1000,
    timeoutDuration: 5000,
  });
  // A client sends the same token on every call until it expires; an RSA verification costs more than
  // the lookup itself, so a successful verification is reused for a bounded time (in memory only).
  const verified = new Map<string, { principal: Principal; until: number }>();

  async function authenticate(authorization: string | null): Promise<AuthOutcome> {
    if (authorization === null || authorization.trim() === '') {
      return fail('missing_token', 'missing bearer token');
    }
    if (authorization.length > 16_384) return fail('malformed_header', 'authorization header too large');
    const match = BEARER.exec(authorization);
    if (!match?.[1]) return fail('malformed_header', 'authorization header must be "Bearer <jwt>"');
    const token = match[1];
    const cached = verified.get(token);
    if (cached) {
      if (cached.until > Date.now()) return { ok: true, principal: cached.principal };
      verified.delete(token);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: cfg.issuer,
        audience: cfg.audience,
        clockTolerance: cfg.clockSkewSec,
        algorithms: [...ALLOWED_ALGORITHMS],
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      return classifyVerifyError(err);
    }
    if (typeof payload.sub !== 'string' || payload.sub.length === 0)
      return fail('missing_sub', 'token has no subject');
    const principal: Principal = { sub: payload.sub, roles: rolesFromClaims(payload, cfg.rolesClaim) };
    const until = Math.min(Date.now() + VERIFIED_CACHE_TTL_MS, (payload.exp ?? 0) * 1000);
    if (until > Date.now()) {
      if (verified.size >= VERIFIED_CACHE_MAX) verified.delete(verified.keys().next().value as string);
      verified.set(token, { principal, until });
    }
    return { ok: true, principal };
  }

  return { mode: 'oidc', authenticate };
}

/** Map a jose failure to a reason. Messages stay generic: they reach the caller. */
export function classifyVerifyError(err: unknown): AuthOutcome {
  if (err instanceof joseErrors.JWTExpired) return fail('expired', 'token expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'iss':
        return fail('bad_issuer', 'token issuer not accepted');
      case 'aud':
        return fail('bad_audience', 'token audience not accepted');
      case 'nbf':
      case 'iat':
        return fail('not_yet_valid', 'token not yet valid');
      default:
        return fail('invalid_claims', 'token claims invalid');
    }
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed)
    return fail('alg_not_allowed', 'token algorithm not accepted');
  if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys) {
    return fail('unknown_kid', 'token signing key not known');
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return fail('bad_signature', 'token signature invalid');
  if (err instanceof joseErrors.JWKSTimeout)
    return fail('jwks_unavailable', 'identity provider keys unavailable', 503);
  if (
    err instanceof joseErrors.JWSInvalid ||
    err instanceof joseErrors.JWTInvalid ||
    err instanceof joseErrors.JOSENotSupported ||
    err instanceof joseErrors.JWKInvalid
  ) {
    return fail('malformed_token', 'token malformed');
  }
  // What is left is the JWKS fetch itself failing (network error, non-200, bad JSON): not the caller's fault.
  if (
    !(err instanceof joseErrors.JOSEError) ||
    err.code === 'ERR_JOSE_GENERIC' ||
    err instanceof joseErrors.JWKSInvalid
  ) {
    return fail('jwks_unavailable', 'identity provider keys unavailable', 503);
  }
  return fail('malformed_token', 'token invalid');
}

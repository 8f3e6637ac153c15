// core/env.ts defaults that SPEC §8 fixes: AUTH_MODE is `disabled` for local, `oidc` otherwise.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadEnv } from '../../../core/env';

const OIDC = {
  OIDC_JWKS_URL: 'http://127.0.0.1:8090/.well-known/jwks.json',
  OIDC_ISSUER: 'http://127.0.0.1:8090',
  OIDC_AUDIENCE: 'tx-lookup',
};

describe('AUTH_MODE default', () => {
  it('is disabled when APP_ENV is local or unset (local is the APP_ENV default)', () => {
    expect(loadEnv({}).APP_ENV).toBe('local');
    expect(loadEnv({}).AUTH_MODE).toBe('disabled');
    expect(loadEnv({ APP_ENV: 'local' }).AUTH_MODE).toBe('disabled');
    expect(loadEnv({ APP_ENV: '' }).AUTH_MODE).toBe('disabled'); // empty means unset
  });

  it.each(['test', 'staging', 'prod'])('is oidc when APP_ENV=%s', (appEnv) => {
    const e = loadEnv({ APP_ENV: appEnv, CURSOR_SECRET: 'a-real-secret-of-some-length', ...OIDC });
    expect(e.AUTH_MODE).toBe('oidc');
  });

  it.each(['test', 'staging'])(
    'APP_ENV=%s without AUTH_MODE needs the OIDC settings, naming them',
    (appEnv) => {
      expect(() => loadEnv({ APP_ENV: appEnv })).toThrow(ConfigError);
      expect(() => loadEnv({ APP_ENV: appEnv })).toThrow(/OIDC_JWKS_URL: required when AUTH_MODE=oidc/);
    },
  );

  it('an explicit AUTH_MODE wins over the default', () => {
    expect(loadEnv({ APP_ENV: 'test', AUTH_MODE: 'disabled' }).AUTH_MODE).toBe('disabled');
    expect(loadEnv({ APP_ENV: 'staging', AUTH_MODE: 'disabled' }).AUTH_MODE).toBe('disabled');
    expect(loadEnv({ APP_ENV: 'local', AUTH_MODE: 'oidc', ...OIDC }).AUTH_MODE).toBe('oidc');
  });

  it('APP_ENV=prod refuses AUTH_MODE=disabled', () => {
    expect(() =>
      loadEnv({ APP_ENV: 'prod', AUTH_MODE: 'disabled', CURSOR_SECRET: 'a-real-secret-of-some-length' }),
    ).toThrow(/AUTH_MODE: AUTH_MODE=disabled is refused when APP_ENV=prod/);
  });
});

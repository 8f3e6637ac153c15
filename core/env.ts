// All configuration comes from environment variables, parsed once here with zod.
// A wrong value fails at startup with a message naming the variable (SPEC §8).
import { z } from 'zod';

const port = z.coerce.number().int().min(1).max(65535);
/** Development-only cursor key; refused when APP_ENV=prod. */
export const DEV_CURSOR_SECRET = 'tx-lookup-dev-cursor-secret';
const positiveInt = z.coerce.number().int().positive();

const schema = z
  .object({
    APP_ENV: z.enum(['local', 'test', 'staging', 'prod']).default('local'),
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),

    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .default('postgres://txlookup:txlookup@127.0.0.1:5432/txlookup'),
    DB_POOL_MAX: positiveInt.default(10),
    DB_STATEMENT_TIMEOUT_MS: positiveInt.default(15000),

    KAFKA_BROKERS: z
      .string()
      .default('127.0.0.1:9092')
      .transform((s) =>
        s
          .split(',')
          .map((b) => b.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'each broker must be host:port')).min(1)),
    KAFKA_CLIENT_ID: z.string().min(1).default('tx-lookup'),
    EVENT_PROFILE_ID: z.string().min(1).default('canonical-v1'),
    // Optional per-deployment topic names replacing the profile's (tests, blue/green topics).
    KAFKA_TOPIC_LEDGER: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name')
      .optional(),
    KAFKA_TOPIC_ORDER: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name')
      .optional(),

    // Consumer group policy: bo-sync-<env>-<owner>-v<generation> (SPEC §2). CONSUMER_GROUP overrides it.
    CONSUMER_GROUP: z.string().min(1).optional(),
    CONSUMER_GROUP_OWNER: z
      .string()
      .regex(/^[a-z0-9-]+$/, 'lowercase letters, digits and dashes')
      .default('local'),
    CONSUMER_GROUP_GENERATION: positiveInt.default(1),
    // Where a new group starts: earliest | latest | an RFC 3339 timestamp.
    CONSUMER_START: z
      .string()
      .default('earliest')
      .refine((s) => s === 'earliest' || s === 'latest' || !Number.isNaN(Date.parse(s)), {
        message: 'must be earliest, latest or an RFC 3339 timestamp',
      }),
    CONSUMER_MAX_WAIT_MS: positiveInt.default(50),
    CONSUMER_METRICS_PORT: port.default(9464),
    // Partitions whose batches are applied in parallel (each partition stays strictly ordered).
    CONSUMER_PARTITIONS_CONCURRENCY: positiveInt.default(4),
    // How long the group waits for a silent member (a killed process) before rebalancing its partitions.
    CONSUMER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).max(300000).default(30000),

    TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
    TEMPORAL_NAMESPACE: z.string().default('default'),
    TEMPORAL_TASK_QUEUE: z.string().default('txlookup-ops'),
    TEMPORAL_UI_URL: z.string().url().default('http://127.0.0.1:8233'),
    WORKER_METRICS_PORT: port.default(9465),
    // Bearer token the ops workflows use for their smoke/idempotency HTTP calls when the API runs with oidc.
    OPS_API_TOKEN: z.string().min(1).optional(),
    // Default dump of the cutover rehearsal (ops/up writes the demo dump here).
    DEMO_DUMP_PATH: z.string().default('var/demo/dump'),

    HOST: z.string().default('127.0.0.1'),
    PORT: port.default(8080),
    API_BASE_URL: z.string().url().optional(),

    AUTH_MODE: z.enum(['disabled', 'oidc']).optional(),
    OIDC_JWKS_URL: z.string().url().optional(),
    OIDC_ISSUER: z.string().min(1).optional(),
    OIDC_AUDIENCE: z.string().min(1).optional(),
    OIDC_ROLES_CLAIM: z.string().min(1).default('roles'),
    OIDC_CLOCK_SKEW_SEC: z.coerce.number().int().min(0).max(300).default(30),
    // JWKS cache: an unknown kid triggers a refetch at most once per cooldown; keys are refetched after max age.
    OIDC_JWKS_COOLDOWN_SEC: z.coerce.number().min(0).max(3600).default(30),
    OIDC_JWKS_CACHE_MAX_AGE_SEC: z.coerce.number().positive().max(86400).default(600),
    // HMAC key of the wallet listing's opaque cursors (a tampered cursor is a 400).
    CURSOR_SECRET: z.string().min(16, 'at least 16 characters').default(DEV_CURSOR_SECRET),

    AUDIT_FLUSH_MAX_ROWS: positiveInt.default(256),
    EVIDENCE_DIR: z.string().default('var/evidence'),
  })
  .transform((e, ctx) => {
    // AUTH_MODE default (SPEC §8): disabled for local only, oidc for every other APP_ENV (test included:
    // a test setup that relies on disabled auth says AUTH_MODE=disabled explicitly).
    const authMode = e.AUTH_MODE ?? (e.APP_ENV === 'local' ? 'disabled' : 'oidc');
    if (authMode === 'disabled' && e.APP_ENV === 'prod') {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_MODE'],
        message: 'AUTH_MODE=disabled is refused when APP_ENV=prod',
      });
    }
    if (e.APP_ENV === 'prod' && e.CURSOR_SECRET === DEV_CURSOR_SECRET) {
      ctx.addIssue({
        code: 'custom',
        path: ['CURSOR_SECRET'],
        message: 'the development default is refused when APP_ENV=prod',
      });
    }
    if (authMode === 'oidc') {
      for (const k of ['OIDC_JWKS_URL', 'OIDC_ISSUER', 'OIDC_AUDIENCE'] as const) {
        if (!e[k]) ctx.addIssue({ code: 'custom', path: [k], message: 'required when AUTH_MODE=oidc' });
      }
    }
    const consumerGroup =
      e.CONSUMER_GROUP ?? `bo-sync-${e.APP_ENV}-${e.CONSUMER_GROUP_OWNER}-v${e.CONSUMER_GROUP_GENERATION}`;
    return {
      ...e,
      AUTH_MODE: authMode,
      CONSUMER_GROUP: consumerGroup,
      API_BASE_URL: e.API_BASE_URL ?? `http://${e.HOST}:${e.PORT}`,
    };
  });

export type Env = z.output<typeof schema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parse an environment (default: process.env). Throws ConfigError naming each bad variable. */
export function loadEnv(source: Record<string, string | undefined> = process.env): Env {
  // Empty strings mean "unset", as in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const name = i.path.join('.') || '(environment)';
      return `  ${name}: ${i.message}${name in cleaned ? ` (got ${JSON.stringify(cleaned[name])})` : ''}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

let cached: Env | undefined;
/** The process-wide configuration, parsed once. */
export function env(): Env {
  cached ??= loadEnv();
  return cached;
}

/** Entry points call this first: a bad variable prints one clear message and exits 2. */
export function envOrExit(): Env {
  try {
    return env();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

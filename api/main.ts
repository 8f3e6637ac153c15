// Admin API process: `npm run api`. Config from core/env.ts (HOST, PORT, AUTH_MODE, OIDC_*, DATABASE_URL,
// CURSOR_SECRET, AUDIT_FLUSH_MAX_ROWS). SIGTERM/SIGINT stop accepting, drain the audit queue, close pools.

// trpc-to-openapi re-validates the whole router (regenerating the OpenAPI document) on EVERY REST request
// unless NODE_ENV=production; the router is validated once at startup below instead. (The bridge reads
// NODE_ENV per request, so setting it here, after the hoisted imports, is early enough.)
process.env.NODE_ENV ??= 'production';

import { envOrExit } from '../core/env';
import { logger } from '../core/log';
import { registerPairingGauges } from '../db/pairing-stats';
import { createPool } from '../db/pool';
import { createAuditPool, GroupCommitAuditWriter } from './audit';
import { authenticatorFromEnv } from './auth';
import { createApi, ENTRY_BATCHING } from './http';
import { buildOpenApiDocument } from './openapi';
import { startServer } from './server';

const log = logger('api');

async function main(): Promise<void> {
  const config = envOrExit();
  // Fails fast on a procedure the bridge cannot expose.
  buildOpenApiDocument(config.API_BASE_URL);
  const db = createPool();
  registerPairingGauges(db);
  // The coalesced /admin/tx statements and the audit batches run on their own small pools, one connection per
  // statement in flight, each statement planned once per session (db/pool.ts): PostgreSQL would otherwise plan
  // `tx_id = ANY($1)` and the audit INSERT again on every call. A saturated pool of wallet pages must not delay
  // either; audit commits in particular.
  const lookupPool = createPool(config.DATABASE_URL, ENTRY_BATCHING.maxInFlight, { genericPlans: true });
  const auditPool = createAuditPool(config.DATABASE_URL);
  const audit = new GroupCommitAuditWriter(auditPool, config.AUDIT_FLUSH_MAX_ROWS);
  const authenticator = authenticatorFromEnv(config);
  const api = createApi({
    db,
    lookupDb: lookupPool,
    audit,
    authenticator,
    cursorSecret: config.CURSOR_SECRET,
    baseUrl: config.API_BASE_URL,
  });
  const running = await startServer(api, { host: config.HOST, port: config.PORT });
  log.info('admin api listening', {
    url: running.url,
    auth_mode: authenticator.mode,
    app_env: config.APP_ENV,
  });

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    await running.close();
    await audit.close();
    await Promise.allSettled([db.end(), lookupPool.end(), auditPool.end()]);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  log.error('admin api failed to start', { err });
  process.exit(1);
});

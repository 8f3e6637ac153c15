// The one tRPC setup of the Admin API (create-t3-app grain): request context, middleware and the
// procedure kinds. Routers stay thin; SQL lives in db/lookups.ts.
//
//   publicProcedure     - no auth
//   protectedProcedure  - a verified principal with ADMIN_READ or ADMIN_AUDIT (401 / 403 otherwise;
//                         failures go to the structured log and api_auth_failures_total, never the DB)
//   auditLookup         - chained after .input(): writes the audit row of every 200/404 lookup and
//                         fails closed (503) when it cannot be committed
import { initTRPC, TRPCError } from '@trpc/server';
import type pg from 'pg';
import type { OpenApiMeta } from 'trpc-to-openapi';
import type { Coalescer } from '../core/coalesce';
import type { LedgerEntryRow } from '../db/lookups';
import { logger } from '../core/log';
import { apiAuditWriteFailuresTotal, apiAuthFailuresTotal } from '../core/metrics';
import type { AuditResult, AuditSink } from './audit';
import { formatIssues } from './errors';
import { mayRead, type Authenticator, type AuthOutcome, type Principal } from './auth';

const authLog = logger('api.auth');
const auditLog = logger('api.audit');

/** What the process provides to every request. */
export interface ApiServices {
  db: pg.Pool;
  audit: AuditSink;
  authenticator: Authenticator;
  cursorSecret: string;
  /** Entries by tx_id (null: none); concurrent lookups share one statement. */
  entries: Coalescer<string, LedgerEntryRow | null>;
}

/** What the HTTP layer knows about one request. */
export interface RequestInfo {
  requestId: string;
  clientIp: string | null;
  userAgent: string | null;
  authorization: string | null;
  /** Wall-clock time the request arrived. */
  receivedAt: Date;
  /** performance.now() when the request arrived, for duration_ms. */
  startedAt: number;
}

export interface Context extends RequestInfo {
  services: ApiServices;
  /** 'rest' through the OpenAPI bridge (path parameters arrive percent-encoded), 'trpc' otherwise. */
  transport: 'rest' | 'trpc';
  /** Set by protectedProcedure. */
  principal: Principal | null;
  /** Memoised authentication of this HTTP request (a tRPC batch authenticates once). */
  authenticate: () => Promise<AuthOutcome>;
  /** A batch's auth failure is logged and counted once. */
  authFailureRecorded: boolean;
}

export function createContext(
  services: ApiServices,
  info: RequestInfo,
  transport: Context['transport'],
): Context {
  let outcome: Promise<AuthOutcome> | undefined;
  return {
    ...info,
    services,
    transport,
    principal: null,
    authenticate: () => (outcome ??= services.authenticator.authenticate(info.authorization)),
    authFailureRecorded: false,
  };
}

/** Procedure metadata: OpenAPI exposure plus how an audited lookup counts its result. */
export type ApiMeta = OpenApiMeta<{ audit?: 'single' | 'list' }>;

const t = initTRPC
  .context<Context>()
  .meta<ApiMeta>()
  .create({
    // Never put stack traces into responses, whatever NODE_ENV says.
    isDev: false,
    errorFormatter({ shape, error, ctx }) {
      // Input validation: a readable "tx_id: must be ..." instead of the issues' JSON dump.
      const issues = (error.cause as { issues?: unknown } | undefined)?.issues;
      // Internal errors never leak their cause (SQL text, hosts) to the caller; the log has it.
      const message =
        error.code === 'INTERNAL_SERVER_ERROR'
          ? 'internal error'
          : (error.code === 'BAD_REQUEST' && formatIssues(issues)) || shape.message;
      return { ...shape, message, data: { ...shape.data, request_id: ctx?.requestId ?? null } };
    },
  });

export const router = t.router;
export const middleware = t.middleware;
export const publicProcedure = t.procedure;

function recordAuthFailure(ctx: Context, reason: string, status: number, path: string): void {
  if (ctx.authFailureRecorded) return;
  ctx.authFailureRecorded = true;
  apiAuthFailuresTotal.inc({ reason });
  // Reason and request id only: the token itself is never logged.
  authLog.warn('request rejected', {
    reason,
    status,
    request_id: ctx.requestId,
    procedure: path,
    client_ip: ctx.clientIp,
  });
}

const enforceReader = t.middleware(async ({ ctx, path, next }) => {
  const outcome = await ctx.authenticate();
  if (!outcome.ok) {
    recordAuthFailure(ctx, outcome.reason, outcome.status, path);
    throw new TRPCError({
      code: outcome.status === 503 ? 'SERVICE_UNAVAILABLE' : 'UNAUTHORIZED',
      message: outcome.message,
    });
  }
  if (!mayRead(outcome.principal.roles)) {
    recordAuthFailure(ctx, 'no_role', 403, path);
    throw new TRPCError({ code: 'FORBIDDEN', message: 'requires role ADMIN_READ or ADMIN_AUDIT' });
  }
  return next({ ctx: { principal: outcome.principal } });
});

export const protectedProcedure = t.procedure.use(enforceReader);

/**
 * REST path parameters that are free text (a wallet_id may hold any character, SPEC §1.2) reach the procedure
 * percent-encoded: the OpenAPI bridge does not decode what it extracts from the path
 * (mcampa/trpc-to-openapi#166). Chain this BEFORE `.input()` so the schema validates, and the audit row records,
 * the decoded value. tRPC callers send the value itself and are left alone.
 */
export const decodeRestPathParams = (...names: string[]) =>
  t.middleware(async ({ ctx, getRawInput, next }) => {
    if (ctx.transport !== 'rest') return next();
    const raw = await getRawInput();
    if (raw === null || typeof raw !== 'object') return next();
    const decoded: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
    for (const name of names) {
      const v = decoded[name];
      if (typeof v !== 'string') continue;
      try {
        decoded[name] = decodeURIComponent(v);
      } catch {
        throw new TRPCError({ code: 'BAD_REQUEST', message: `${name}: not valid percent-encoding (UTF-8)` });
      }
    }
    return next({ getRawInput: async () => decoded });
  });

function resultOf(kind: 'single' | 'list', data: unknown): { result: AuditResult; count: number } {
  if (kind === 'list') {
    const items = (data as { items?: unknown } | null)?.items;
    return { result: 'LISTED', count: Array.isArray(items) ? items.length : 0 };
  }
  return { result: 'FOUND', count: 1 };
}

/**
 * Audit middleware for lookups; chain it right after `.input()` so `input` is the validated parameters.
 * Only 200 and 404 outcomes are audited; 400/401/403 never reach it or are passed through unrecorded.
 */
export const auditLookup = t.middleware(async ({ ctx, meta, input, next }) => {
  const result = await next();
  let outcome: { result: AuditResult; count: number; status: number };
  if (result.ok) outcome = { ...resultOf(meta?.audit ?? 'single', result.data), status: 200 };
  else if (result.error.code === 'NOT_FOUND') outcome = { result: 'NOT_FOUND', count: 0, status: 404 };
  else return result;

  const principal = ctx.principal;
  if (!principal)
    throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'audited lookup without a principal' });
  try {
    await ctx.services.audit.write({
      occurredAt: ctx.receivedAt,
      actorSub: principal.sub,
      actorRoles: principal.roles,
      route: meta?.openapi?.path ?? 'unknown',
      params: (input ?? {}) as Record<string, unknown>,
      result: outcome.result,
      statusCode: outcome.status,
      durationMs: performance.now() - ctx.startedAt,
      resultCount: outcome.count,
      clientIp: ctx.clientIp,
      userAgent: ctx.userAgent,
      requestId: ctx.requestId,
    });
  } catch (err) {
    apiAuditWriteFailuresTotal.inc();
    auditLog.error('audit write failed; lookup refused', {
      request_id: ctx.requestId,
      route: meta?.openapi?.path,
      err,
      code: (err as { code?: unknown }).code,
    });
    throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'audit log unavailable; lookup refused' });
  }
  return result;
});

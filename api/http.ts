// The whole Admin API as ONE web-standard function: handle(Request) -> Response. It serves tRPC at
// /trpc, the REST bridge (trpc-to-openapi) at /admin/..., /openapi.json, /docs, /healthz, /readyz and
// /metrics, and does what every response needs: x-request-id, the { code, message, request_id } error
// body on the REST side, WWW-Authenticate on 401, and the api_* metrics labelled by ROUTE TEMPLATE.
// api/server.ts adapts it to node:http; tests call it directly.
import { randomUUID } from 'node:crypto';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import type { OpenAPIObject } from 'trpc-to-openapi';
import { MAX_ID_LENGTH, MAX_WALLET_ID_LENGTH } from '../contract/values';
import { logger } from '../core/log';
import { apiRequestLatency, apiRequestsInflight, apiRequestsTotal, registry } from '../core/metrics';
import { Coalescer } from '../core/coalesce';
import { getLedgerEntries, pingDatabase } from '../db/lookups';
import { docsResponse } from './docs';
import {
  API_ERROR_STATUS,
  errorResponse,
  formatIssues,
  jsonResponse,
  publicErrorCode,
  type ApiErrorCode,
} from './errors';
import { buildOpenApiDocument } from './openapi';
import { createOpenApiFetch } from './openapi-fetch';
import { knownBody } from './response-body';
import { appRouter } from './router';
import { createContext, type ApiServices, type RequestInfo } from './trpc';

const log = logger('api');

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's x-request-id when sane, else a fresh UUID. */
export function requestIdFrom(header: string | null): string {
  return header !== null && SANE_REQUEST_ID.test(header) ? header : randomUUID();
}

export interface ApiOptions extends Omit<ApiServices, 'entries'> {
  /**
   * Pool of the coalesced /admin/tx statements (default: db). The API gives them their own, as many connections
   * as statements run at once (ENTRY_BATCHING), planned once per session (db/pool.ts, genericPlans).
   */
  lookupDb?: ApiServices['db'];
  /** Public base URL written into the OpenAPI document's servers list. */
  baseUrl: string;
  /** /readyz gives up on the DB after this long (default 2000 ms). */
  readinessTimeoutMs?: number;
}

export interface ConnectionInfo {
  clientIp?: string | null;
}

export interface Api {
  handle(request: Request, connection?: ConnectionInfo): Promise<Response>;
}

interface RestRoute {
  template: string;
  pattern: RegExp;
  param: string;
  /** What the parameter must be (the 400 for an empty one). */
  rule: string;
  /**
   * A free-text parameter (wallet_id, SPEC §1.2): the path is not pre-decoded here, decodeRestPathParams
   * (trpc.ts) decodes it whole - decoding parts of it could turn a broken escape into a valid one ("%2%41").
   */
  freeText?: boolean;
}

const ID_RULE_TEXT = `must be 1..${MAX_ID_LENGTH} characters of [A-Za-z0-9._:-]`;

// Same matching as the bridge (case-insensitive, trailing slash ignored) - used for the metric label and
// to answer an empty id with 400 rather than "no route".
const REST_ROUTES: RestRoute[] = [
  {
    template: '/admin/tx/{tx_id}',
    pattern: /^\/admin\/tx(?:\/([^/]*))?\/?$/i,
    param: 'tx_id',
    rule: ID_RULE_TEXT,
  },
  {
    template: '/admin/payment-orders/{order_id}',
    pattern: /^\/admin\/payment-orders(?:\/([^/]*))?\/?$/i,
    param: 'order_id',
    rule: ID_RULE_TEXT,
  },
  {
    template: '/admin/wallets/{wallet_id}/tx',
    pattern: /^\/admin\/wallets\/([^/]*)\/tx\/?$/i,
    param: 'wallet_id',
    rule: `must be 1..${MAX_WALLET_ID_LENGTH} characters`,
    freeText: true,
  },
];

const TRPC_PROCEDURES = new Set(['admin.tx.get', 'admin.paymentOrders.get', 'admin.wallets.listTx']);

// Percent-escapes of characters the id rule allows are decoded (a client may send "a%3Ab" for "a:b");
// every other escape stays as it is and fails the id rule with a 400. Not used on a freeText route.
function decodeIdSafeEscapes(pathname: string): string {
  return pathname.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9._:-]/.test(ch) ? ch : escape;
  });
}

function trpcRouteLabel(pathname: string): string {
  const procedures = pathname.slice('/trpc/'.length);
  if (procedures.includes(',')) return '/trpc/batch';
  return TRPC_PROCEDURES.has(procedures) ? `/trpc/${procedures}` : '/trpc/unknown';
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const WWW_AUTHENTICATE = 'Bearer realm="tx-lookup"';

// Concurrent /admin/tx lookups share one statement (core/coalesce.ts), two statements at a time: 8 or 16 at
// a time measured no better (bench:api, README) and give smaller batches.
export const ENTRY_BATCHING = { maxBatch: 256, maxInFlight: 2 };

export function createApi(opts: ApiOptions): Api {
  const services: ApiServices = {
    db: opts.db,
    audit: opts.audit,
    authenticator: opts.authenticator,
    cursorSecret: opts.cursorSecret,
    entries: new Coalescer(async (txIds) => {
      const rows = await getLedgerEntries(opts.lookupDb ?? opts.db, txIds);
      return txIds.map((id) => rows.get(id) ?? null);
    }, ENTRY_BATCHING),
  };
  const readinessTimeoutMs = opts.readinessTimeoutMs ?? 2000;
  // The REST bridge over the same router, built once (see openapi-fetch.ts).
  const restBridge = createOpenApiFetch<RequestInfo>({
    router: appRouter,
    createContext: (info) => createContext(services, info, 'rest'),
    onError: ({ error, path, ctx }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR') {
        const requestId = (ctx as { requestId?: string } | undefined)?.requestId;
        log.error('procedure failed', { request_id: requestId, procedure: path, err: error.cause ?? error });
      }
    },
  });
  let openApiJson: string | undefined;
  const openApi = (): string =>
    (openApiJson ??= JSON.stringify(buildOpenApiDocument(opts.baseUrl) satisfies OpenAPIObject));

  async function readiness(requestId: string): Promise<Response> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        pingDatabase(services.db),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${readinessTimeoutMs} ms`)),
            readinessTimeoutMs,
          );
        }),
      ]);
      return jsonResponse(200, { status: 'ready' });
    } catch (err) {
      log.warn('readiness check failed', { request_id: requestId, err });
      return errorResponse('SERVICE_UNAVAILABLE', 'database unreachable', requestId);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Rewrite the bridge's error body to { code, message, request_id } with the matching status. */
  async function reshapeRestError(res: Response, requestId: string): Promise<Response> {
    let body: { code?: unknown; message?: unknown; issues?: unknown } = {};
    try {
      body = JSON.parse(knownBody(res) ?? (await res.text())) as typeof body;
    } catch {
      // not JSON: keep the defaults below
    }
    const code: ApiErrorCode = publicErrorCode(body.code);
    let message: string;
    if (code === 'INTERNAL_SERVER_ERROR') message = 'internal error';
    else if (code === 'BAD_REQUEST')
      message =
        formatIssues(body.issues) ?? (typeof body.message === 'string' ? body.message : 'bad request');
    else message = typeof body.message === 'string' ? body.message : code.toLowerCase();
    return errorResponse(code, message, requestId);
  }

  async function route(
    request: Request,
    url: URL,
    info: RequestInfo,
  ): Promise<{ label: string; response: Response }> {
    const { pathname } = url;
    const method = request.method;
    const requestId = info.requestId;
    const isRead = method === 'GET' || method === 'HEAD';

    if (pathname.startsWith('/trpc/') || pathname === '/trpc') {
      const response = await fetchRequestHandler({
        endpoint: '/trpc',
        req: request,
        router: appRouter,
        createContext: () => createContext(services, info, 'trpc'),
        onError: ({ error, path }) => {
          if (error.code === 'INTERNAL_SERVER_ERROR') {
            log.error('procedure failed', {
              request_id: requestId,
              procedure: path,
              err: error.cause ?? error,
            });
          }
        },
      });
      return { label: trpcRouteLabel(pathname), response };
    }

    if (/^\/admin(\/|$)/i.test(pathname)) {
      const freeText = REST_ROUTES.some((r) => r.freeText && r.pattern.test(pathname));
      const decodedPath = freeText ? pathname : decodeIdSafeEscapes(pathname);
      const matched = REST_ROUTES.map((r) => ({ r, m: r.pattern.exec(decodedPath) })).find(
        (x) => x.m !== null,
      );
      if (!matched)
        return {
          label: 'unmatched',
          response: errorResponse('NOT_FOUND', `no route ${method} ${pathname}`, requestId),
        };
      const label = matched.r.template;
      if (!matched.m?.[1]) {
        return {
          label,
          response: errorResponse('BAD_REQUEST', `${matched.r.param} ${matched.r.rule}`, requestId),
        };
      }
      if (method !== 'GET')
        return { label, response: errorResponse('NOT_FOUND', `no route ${method} ${pathname}`, requestId) };
      const bridged =
        decodedPath === pathname
          ? request
          : new Request(new URL(decodedPath + url.search, url), { method, headers: request.headers });
      let response = await restBridge(bridged, info);
      if (response.status >= 400) response = await reshapeRestError(response, requestId);
      return { label, response };
    }

    if (isRead) {
      switch (pathname) {
        case '/healthz':
          return { label: pathname, response: jsonResponse(200, { status: 'ok' }) };
        case '/readyz':
          return { label: pathname, response: await readiness(requestId) };
        case '/metrics':
          return {
            label: pathname,
            response: new Response(await registry.metrics(), {
              status: 200,
              headers: { 'content-type': registry.contentType },
            }),
          };
        case '/openapi.json':
          return {
            label: pathname,
            response: new Response(openApi(), {
              status: 200,
              headers: { 'content-type': 'application/json; charset=utf-8' },
            }),
          };
      }
      if (pathname === '/docs' || pathname.startsWith('/docs/')) {
        const docs = docsResponse(pathname);
        if (docs) return { label: '/docs', response: docs };
      }
    }
    return {
      label: 'unmatched',
      response: errorResponse('NOT_FOUND', `no route ${method} ${pathname}`, requestId),
    };
  }

  async function handle(request: Request, connection?: ConnectionInfo): Promise<Response> {
    const startedAt = performance.now();
    apiRequestsInflight.inc();
    const requestId = requestIdFrom(request.headers.get('x-request-id'));
    let label = 'unmatched';
    let response: Response;
    try {
      const url = new URL(request.url);
      const info: RequestInfo = {
        requestId,
        clientIp: connection?.clientIp ?? null,
        userAgent: request.headers.get('user-agent'),
        authorization: request.headers.get('authorization'),
        receivedAt: new Date(),
        startedAt,
      };
      ({ label, response } = await route(request, url, info));
    } catch (err) {
      log.error('request failed', { request_id: requestId, err });
      response = errorResponse('INTERNAL_SERVER_ERROR', 'internal error', requestId);
    } finally {
      apiRequestsInflight.dec();
    }
    response.headers.set('x-request-id', requestId);
    if (response.status === API_ERROR_STATUS.UNAUTHORIZED)
      response.headers.set('www-authenticate', WWW_AUTHENTICATE);
    const method = KNOWN_METHODS.has(request.method) ? request.method : 'OTHER';
    const labels = { method, route: label, status: String(response.status) };
    apiRequestLatency.observe(labels, (performance.now() - startedAt) / 1000);
    apiRequestsTotal.inc(labels);
    log.debug('request', {
      request_id: requestId,
      ...labels,
      ms: Math.round((performance.now() - startedAt) * 1000) / 1000,
    });
    return response;
  }

  return { handle };
}

// The REST bridge as a web-standard handler, Request -> Response, built ONCE. trpc-to-openapi's own
// createOpenApiFetchHandler rebuilds its node-http handler on every call: the procedure/path table, and outside
// NODE_ENV=production a whole OpenAPI document to validate the router - per request. This is the same adapter
// (the request proxied with the parsed body, a minimal response object collecting status, headers and body)
// around one handler made at startup; the per-request context travels with the proxied request.
import type { AnyTRPCRouter } from '@trpc/server';
import { TRPCError } from '@trpc/server';
import { createOpenApiNodeHttpHandler } from 'trpc-to-openapi';
import { stringResponse } from './response-body';

type ParsedBody = { ok: true; data: unknown } | { ok: false; cause: unknown };

async function parseBody(req: Request): Promise<ParsedBody> {
  try {
    const type = req.headers.get('content-type') ?? '';
    if (type.includes('application/json')) return { ok: true, data: JSON.parse(await req.text()) };
    if (type.includes('application/x-www-form-urlencoded')) {
      const params = new URLSearchParams(await req.text());
      const data: Record<string, string[]> = {};
      for (const key of params.keys()) data[key] = params.getAll(key);
      return { ok: true, data };
    }
    return { ok: true, data: req.body };
  } catch (cause) {
    return { ok: false, cause };
  }
}

export interface OpenApiFetchOptions<TContext> {
  router: AnyTRPCRouter;
  /** Called once per request with the context value given to handle(). */
  createContext: (perRequest: TContext) => unknown;
  /** ctx is what createContext returned for the failing request (undefined if it never ran). */
  onError?: (opts: { error: TRPCError; path: string | undefined; ctx: unknown }) => void;
}

export type OpenApiFetchHandler<TContext> = (req: Request, perRequest: TContext) => Promise<Response>;

export function createOpenApiFetch<TContext>(
  opts: OpenApiFetchOptions<TContext>,
): OpenApiFetchHandler<TContext> {
  const contexts = new WeakMap<object, TContext>();
  const nodeHandler = createOpenApiNodeHttpHandler({
    router: opts.router,
    createContext: ({ req }: { req: object }) => opts.createContext(contexts.get(req) as TContext),
    // The node handler passes { error, path, ctx, ... }: a superset of what onError reads.
    onError: opts.onError,
  } as unknown as Parameters<typeof createOpenApiNodeHttpHandler>[0]);

  return async (req, perRequest) => {
    const body = await parseBody(req);
    const proxied = new Proxy(req, {
      get(target, prop) {
        if (prop === 'body') {
          if (!body.ok) {
            throw new TRPCError({
              code: 'PARSE_ERROR',
              message: 'Failed to parse request body',
              cause: body.cause,
            });
          }
          return body.data;
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    contexts.set(proxied, perRequest);
    const headers = new Headers();
    return new Promise<Response>((resolve, reject) => {
      let statusCode = 200;
      const res = {
        setHeader(key: string, value: string | readonly string[]) {
          if (typeof value === 'string') headers.set(key, value);
          else for (const v of value) headers.append(key, v);
        },
        get statusCode() {
          return statusCode;
        },
        set statusCode(code: number) {
          statusCode = code;
        },
        end(payload?: string) {
          const init = { status: statusCode, headers };
          resolve(payload === undefined ? new Response(null, init) : stringResponse(payload, init));
        },
      };
      (nodeHandler as unknown as (rq: unknown, rs: unknown) => Promise<void>)(proxied, res).catch(reject);
    });
  };
}

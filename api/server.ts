// Thin node:http adapter around handle(Request) -> Response: IncomingMessage -> Request (with the client
// ip from the socket), Response -> ServerResponse. Keep-alive stays on; request bodies are capped; close()
// waits for the requests still being answered.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { logger } from '../core/log';
import type { Api } from './http';
import { knownBody } from './response-body';

const log = logger('api.server');

const MAX_BODY_BYTES = 1024 * 1024;

export interface RunningServer {
  server: http.Server;
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  close(): Promise<void>;
}

function toHeaders(req: http.IncomingMessage): Headers {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    // HTTP/2 pseudo headers never reach node:http/1.1; skip anything Headers would reject.
    if (name.startsWith(':')) continue;
    headers.append(name, raw[i + 1] as string);
  }
  return headers;
}

async function readBody(req: http.IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(chunk);
  }
  return chunks.length === 0 ? null : Buffer.concat(chunks);
}

/** Convert and dispatch one node:http request. */
export async function serveNodeRequest(
  api: Api,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  try {
    const method = req.method ?? 'GET';
    const host = req.headers.host ?? 'localhost';
    const url = `http://${/^[A-Za-z0-9.:[\]-]+$/.test(host) ? host : 'localhost'}${req.url ?? '/'}`;
    const hasBody = method !== 'GET' && method !== 'HEAD';
    const body = hasBody ? await readBody(req) : null;
    const request = new Request(url, { method, headers: toHeaders(req), body: body && new Uint8Array(body) });
    const response = await api.handle(request, { clientIp: req.socket.remoteAddress ?? null });
    const known = knownBody(response);
    let payload: Buffer | string | null = null;
    if (method !== 'HEAD') payload = known ?? Buffer.from(await response.arrayBuffer());
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => {
      headers[key] = value;
    });
    if (payload !== null) headers['content-length'] = String(Buffer.byteLength(payload));
    res.writeHead(response.status, headers);
    res.end(payload ?? undefined);
  } catch (err) {
    const status = (err as { status?: number }).status ?? 500;
    log.error('request adapter failed', { err, status });
    if (!res.headersSent) {
      const requestId = randomUUID();
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-request-id': requestId });
      res.end(
        JSON.stringify({
          code: status === 413 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR',
          message: status === 413 ? 'request body too large' : 'internal error',
          request_id: requestId,
        }),
      );
    } else {
      res.destroy();
    }
  }
}

export function startServer(api: Api, opts: { host: string; port: number }): Promise<RunningServer> {
  // Requests still being answered: close() waits for them, so a shutdown never closes the audit writer
  // under a lookup whose client has already hung up (it would refuse it with 503 and log an error).
  const inFlight = new Set<Promise<void>>();
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    const answering = serveNodeRequest(api, req, res).finally(() => inFlight.delete(answering));
    inFlight.add(answering);
  });
  // Longer than typical load-balancer idle timeouts, so the proxy closes idle connections first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  // A connection that goes quiet (or never sends a request: neither timeout above covers it) is ended.
  server.timeout = 70_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      resolve({
        server,
        url: `http://${host}:${addr.port}`,
        close: async () => {
          const closed = new Promise<void>((done) => server.close(() => done()));
          server.closeIdleConnections();
          // A keep-alive connection may still bring a request while others are answered: wait until none is.
          while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
          // What is left is idle, or a connection that never sent a request (closeIdleConnections skips those).
          server.closeAllConnections();
          await closed;
        },
      });
    });
  });
}

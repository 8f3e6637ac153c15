// The floors bench:api compares the Admin API with: a bare node:http + pg handler of the same /admin/tx lookup
// (the same prepared statement and pool), without tRPC, the OpenAPI bridge, auth, audit or metrics. It answers
// what Node itself reaches on this machine, next to the API and to pgbench. With BARE_AUDIT_SUB set it also
// commits one audit row per lookup before answering, through the API's own group-commit writer
// (api/audit.ts, the same pool): the floor of what the issue asks of a lookup, a durable audit row first.
// Started by bench/api.ts as a child process (PORT, DATABASE_URL); not a server for anything else.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { createAuditPool, GroupCommitAuditWriter } from '../api/audit';
import { LEDGER_ENTRY_BY_TX_ID_SQL } from '../db/lookups';
import { createPool } from '../db/pool';

const pool = createPool(process.env.DATABASE_URL);
const statement = { name: 'bench_bare_tx_get', text: LEDGER_ENTRY_BY_TX_ID_SQL };
const PATH = '/admin/tx/';
const auditSub = process.env.BARE_AUDIT_SUB;
const auditPool = auditSub ? createAuditPool(process.env.DATABASE_URL) : null;
const audit = auditPool ? new GroupCommitAuditWriter(auditPool) : null;

async function answer(req: http.IncomingMessage, txId: string, startedAt: number, receivedAt: Date) {
  const row: unknown = (await pool.query({ ...statement, values: [txId] })).rows[0];
  if (audit && auditSub) {
    await audit.write({
      occurredAt: receivedAt,
      actorSub: auditSub,
      actorRoles: ['ADMIN_READ'],
      route: '/admin/tx/{tx_id}',
      params: { tx_id: txId },
      result: row ? 'FOUND' : 'NOT_FOUND',
      statusCode: row ? 200 : 404,
      durationMs: performance.now() - startedAt,
      resultCount: row ? 1 : 0,
      clientIp: req.socket.remoteAddress ?? null,
      userAgent: req.headers['user-agent'] ?? null,
      requestId: randomUUID(),
    });
  }
  return row;
}

const server = http.createServer((req, res) => {
  const startedAt = performance.now();
  const receivedAt = new Date();
  const url = req.url ?? '';
  if (!url.startsWith(PATH)) {
    res.writeHead(url === '/readyz' ? 200 : 404).end();
    return;
  }
  let txId: string;
  try {
    txId = decodeURIComponent(url.slice(PATH.length));
  } catch {
    res.writeHead(400).end('tx_id: not valid percent-encoding');
    return;
  }
  answer(req, txId, startedAt, receivedAt).then(
    (row) => {
      res
        .writeHead(row ? 200 : 404, { 'content-type': 'application/json' })
        .end(JSON.stringify(row ?? { code: 'NOT_FOUND' }));
    },
    (err: unknown) => {
      res.writeHead(500).end(String(err));
    },
  );
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void (async () => {
    await audit?.close();
    await Promise.allSettled([pool.end(), auditPool?.end()]);
    process.exit(0);
  })();
});

// The floor bench:api compares the Admin API with: a bare node:http + pg handler of the same /admin/tx lookup
// (the same prepared statement and pool), without tRPC, the OpenAPI bridge, auth, audit or metrics. It answers
// what Node itself reaches on this machine, next to the API and to pgbench. Started by bench/api.ts as a child
// process (PORT, DATABASE_URL); not a server for anything else.
import http from 'node:http';
import { LEDGER_ENTRY_BY_TX_ID_SQL } from '../db/lookups';
import { createPool } from '../db/pool';

const pool = createPool(process.env.DATABASE_URL);
const statement = { name: 'bench_bare_tx_get', text: LEDGER_ENTRY_BY_TX_ID_SQL };
const PATH = '/admin/tx/';

const server = http.createServer((req, res) => {
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
  pool.query({ ...statement, values: [txId] }).then(
    (r) => {
      const row: unknown = r.rows[0];
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
  void pool.end().then(() => process.exit(0));
});

// `npm run lookup -- tx <tx_id> | order <order_id> | wallet <wallet_id> [--limit N] [--cursor C] [--json]`
// A readable view of one lookup through the typed client. Token from TXLOOKUP_TOKEN (AUTH_MODE=oidc);
// API from API_BASE_URL (default http://127.0.0.1:8080) or --url. Exit 1 on NOT_FOUND or any error,
// 2 on bad usage.
import { TRPCClientError } from '@trpc/client';
import { envOrExit } from '../core/env';
import { createAdminClient } from './client';
import type { LedgerEntryView, PaymentOrderView, WalletListView } from './schemas';

const USAGE = `usage: npm run lookup -- <command> [options]
  tx <tx_id>                  one ledger entry
  order <order_id>            a payment order with its entries and pair
  wallet <wallet_id>          a wallet's entries, newest first
      --limit N               page size 1..200 (default 50)
      --cursor C              next_cursor of the previous page
options: --json (raw JSON)  --url http://127.0.0.1:8080
env: TXLOOKUP_TOKEN (bearer token when the API runs with AUTH_MODE=oidc)`;

class UsageError extends Error {}

interface Args {
  command: string;
  id: string;
  limit?: number;
  cursor?: string;
  json: boolean;
  url?: string;
}

function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const args: Partial<Args> = { json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--json') args.json = true;
    else if (a === '--limit') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1 || n > 200) throw new UsageError('--limit must be an integer 1..200');
      args.limit = n;
    } else if (a === '--cursor') args.cursor = value();
    else if (a === '--url') args.url = value();
    else if (a === '-h' || a === '--help') throw new UsageError('');
    else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
    else positional.push(a);
  }
  const [command, id, ...rest] = positional;
  if (!command || !id || rest.length > 0) throw new UsageError('expected <command> <id>');
  if (!['tx', 'order', 'wallet'].includes(command)) throw new UsageError(`unknown command ${command}`);
  return { ...args, command, id } as Args;
}

const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));

function fields(obj: object, skip: string[] = []): string {
  const entries = Object.entries(obj).filter(([k]) => !skip.includes(k));
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `  ${pad(k, width)}  ${v === null ? '-' : String(v)}`).join('\n');
}

function entryTable(items: LedgerEntryView[]): string {
  const cols: [string, (e: LedgerEntryView) => string][] = [
    ['event_time', (e) => e.event_time],
    ['tx_id', (e) => e.tx_id],
    ['type', (e) => e.entry_type],
    ['amount', (e) => `${e.amount}${e.currency ? ` ${e.currency}` : ''}`],
    ['status', (e) => `${e.status ?? '-'}/${e.status_group}`],
    ['pairing', (e) => `${e.pairing_status}${e.paired_tx_id ? ` <-> ${e.paired_tx_id}` : ''}`],
  ];
  const rows = items.map((e) => cols.map(([, f]) => f(e)));
  const widths = cols.map(([h], i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]): string =>
    `  ${cells.map((c, i) => pad(c, widths[i] as number)).join('  ')}`.trimEnd();
  return [line(cols.map(([h]) => h)), ...rows.map(line)].join('\n');
}

function renderTx(e: LedgerEntryView): string {
  return `ledger entry ${e.tx_id}\n${fields(e)}`;
}

function renderOrder(o: PaymentOrderView): string {
  const parts = [`payment order ${o.order_id}`, fields(o, ['entries', 'pair'])];
  parts.push(`\npair: ${o.pair ? '' : 'none'}`);
  if (o.pair) parts.push(fields({ ...o.pair, conflict_tx_ids: o.pair.conflict_tx_ids.join(',') || '-' }));
  parts.push(`\nentries (${o.entries.length}):`);
  if (o.entries.length > 0) parts.push(entryTable(o.entries));
  return parts.join('\n');
}

function renderWallet(w: WalletListView): string {
  const parts = [`wallet ${w.wallet_id}: ${w.items.length} entr${w.items.length === 1 ? 'y' : 'ies'}`];
  if (w.items.length > 0) parts.push(entryTable(w.items));
  parts.push(w.next_cursor ? `\nnext page: --cursor ${w.next_cursor}` : '\n(last page)');
  return parts.join('\n');
}

async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message ? `lookup: ${err.message}\n` : ''}${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  const url = args.url ?? envOrExit().API_BASE_URL;
  const client = createAdminClient({ url, token: process.env.TXLOOKUP_TOKEN || undefined });
  try {
    let out: unknown;
    let text: string;
    if (args.command === 'tx') {
      const e = await client.admin.tx.get.query({ tx_id: args.id });
      [out, text] = [e, renderTx(e)];
    } else if (args.command === 'order') {
      const o = await client.admin.paymentOrders.get.query({ order_id: args.id });
      [out, text] = [o, renderOrder(o)];
    } else {
      const w = await client.admin.wallets.listTx.query({
        wallet_id: args.id,
        limit: args.limit,
        cursor: args.cursor,
      });
      [out, text] = [w, renderWallet(w)];
    }
    process.stdout.write(`${args.json ? JSON.stringify(out, null, 2) : text}\n`);
    return 0;
  } catch (err) {
    if (err instanceof TRPCClientError) {
      const data = (err as TRPCClientError<never>).data as { code?: string; request_id?: string } | undefined;
      const code = data?.code ?? 'ERROR';
      const hint =
        code === 'UNAUTHORIZED'
          ? ' (set TXLOOKUP_TOKEN, e.g. `export TXLOOKUP_TOKEN=$(npm run -s dev-oidc -- mint --sub me --roles ADMIN_READ)`)'
          : '';
      const label = code === 'NOT_FOUND' ? 'not found' : code.toLowerCase();
      process.stderr.write(
        `lookup: ${label}: ${err.message}${hint}${data?.request_id ? ` [request ${data.request_id}]` : ''}\n`,
      );
      return 1;
    }
    process.stderr.write(
      `lookup: cannot reach ${url}: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`lookup: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);

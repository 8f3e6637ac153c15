// Shared helpers of the Admin API integration tests: the REAL Backoffice DB (DATABASE_URL), rows inserted
// straight into bo.* under a unique id prefix per test file, and the API called through handle().
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { GroupCommitAuditWriter, type AuditSink } from '../../../api/audit';
import { createDisabledAuthenticator, type Authenticator } from '../../../api/auth';
import { createApi, type Api } from '../../../api/http';
import { env } from '../../../core/env';
import { migrateToHead } from '../../../db/migrate';
import { createPool } from '../../../db/pool';

export const databaseUrl = (): string => env().DATABASE_URL;

export function uniquePrefix(label: string): string {
  return `t-api-${label}-${randomBytes(5).toString('hex')}-`;
}

export async function setupPools(): Promise<{ db: pg.Pool; auditPool: pg.Pool }> {
  await migrateToHead(databaseUrl());
  return { db: createPool(databaseUrl(), 4), auditPool: createPool(databaseUrl(), 2) };
}

export const CURSOR_SECRET = 'integration-test-cursor-secret';

export function buildApi(opts: {
  db: pg.Pool;
  auditPool?: pg.Pool;
  audit?: AuditSink;
  authenticator?: Authenticator;
}): { api: Api; audit: AuditSink } {
  const audit = opts.audit ?? new GroupCommitAuditWriter(opts.auditPool ?? opts.db);
  const api = createApi({
    db: opts.db,
    audit,
    authenticator: opts.authenticator ?? createDisabledAuthenticator(),
    cursorSecret: CURSOR_SECRET,
    baseUrl: 'http://127.0.0.1:8080',
  });
  return { api, audit };
}

export interface Reply {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** GET through handle(); JSON bodies parsed. */
export async function get(
  api: Api,
  path: string,
  headers: Record<string, string> = {},
  clientIp = '10.1.2.3',
): Promise<Reply> {
  const res = await api.handle(new Request(`http://127.0.0.1:8080${path}`, { headers }), { clientIp });
  const text = await res.text();
  let body: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text);
  return { status: res.status, headers: res.headers, body };
}

export const trpcPath = (procedure: string, input: unknown): string =>
  `/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify(input))}`;

export interface EntrySeed {
  tx_id: string;
  wallet_id: string;
  entry_type?: string;
  amount?: string;
  currency?: string | null;
  related_id?: string | null;
  related_type?: string;
  event_time: string;
  updated_at?: string | null;
  source_version?: number | null;
  ingested_at?: string;
}

export async function insertEntries(db: pg.Pool, seeds: EntrySeed[]): Promise<void> {
  for (const s of seeds) {
    await db.query(
      `INSERT INTO bo.ledger_entries (tx_id, wallet_id, entry_type, amount, currency, related_id, related_type,
         event_time, updated_at, source_version, ingested_at, source)
       VALUES ($1, $2, $3, $4::numeric, $5, $6, $7, $8, $9, $10, $11, 'consumer')`,
      [
        s.tx_id,
        s.wallet_id,
        s.entry_type ?? 'PAYMENT',
        s.amount ?? '100.00',
        s.currency === undefined ? 'KRW' : s.currency,
        s.related_id ?? null,
        s.related_type ?? (s.related_id ? 'PAYMENT_ORDER' : 'UNKNOWN'),
        s.event_time,
        s.updated_at ?? null,
        s.source_version ?? null,
        s.ingested_at ?? s.event_time,
      ],
    );
  }
}

export interface OrderSeed {
  order_id: string;
  status?: string;
  status_group?: string;
  amount?: string;
  payer_wallet_id?: string | null;
  payee_wallet_id?: string | null;
  event_time?: string;
  source_version?: number | null;
}

export async function insertOrder(db: pg.Pool, s: OrderSeed): Promise<void> {
  await db.query(
    `INSERT INTO bo.payment_orders (order_id, status, status_group, amount, currency, payer_wallet_id, payee_wallet_id,
       event_time, updated_at, source_version, ingested_at, source)
     VALUES ($1, $2, $3, $4::numeric, 'KRW', $5, $6, $7, NULL, $8, $7::timestamptz + interval '1 second', 'consumer')`,
    [
      s.order_id,
      s.status ?? 'SETTLED',
      s.status_group ?? 'SUCCESS',
      s.amount ?? '1500.00',
      s.payer_wallet_id === undefined ? 'w-1234567889' : s.payer_wallet_id,
      s.payee_wallet_id === undefined ? 'w-9876543210' : s.payee_wallet_id,
      s.event_time ?? '2026-02-24T10:00:00Z',
      s.source_version ?? null,
    ],
  );
}

export async function insertPair(
  db: pg.Pool,
  s: {
    related_id: string;
    payment_tx_id: string | null;
    receive_tx_id: string | null;
    conflict_tx_ids?: string[];
  },
): Promise<void> {
  const complete = s.payment_tx_id !== null && s.receive_tx_id !== null;
  await db.query(
    `INSERT INTO bo.payment_ledger_pairs (related_id, payment_tx_id, receive_tx_id, pairing_status, first_seen_at,
       completed_at, conflict_count, conflict_tx_ids)
     VALUES ($1, $2, $3, $4, '2026-02-24T10:00:00.500Z', $5, $6, $7)`,
    [
      s.related_id,
      s.payment_tx_id,
      s.receive_tx_id,
      complete ? 'COMPLETE' : 'INCOMPLETE',
      complete ? '2026-02-24T10:00:01.500Z' : null,
      s.conflict_tx_ids?.length ?? 0,
      s.conflict_tx_ids ?? [],
    ],
  );
}

export interface AuditLogRow {
  occurred_at: Date;
  sub: string;
  actor_roles: string[];
  route: string;
  params: Record<string, unknown>;
  result: string;
  status_code: number;
  duration_ms: number;
  result_count: number;
  client_ip: string | null;
  user_agent: string | null;
  request_id: string;
}

export async function auditRowsFor(db: pg.Pool, requestId: string): Promise<AuditLogRow[]> {
  const res = await db.query<AuditLogRow>(
    `SELECT * FROM bo.admin_audit_logs WHERE request_id = $1 ORDER BY id`,
    [requestId],
  );
  return res.rows;
}

/** A fresh request id for one call, so its audit rows can be found. */
export const rid = (label: string): string => `${label}-${randomBytes(6).toString('hex')}`;

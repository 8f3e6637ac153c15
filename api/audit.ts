// Audit trail of admin lookups (SPEC §4.3): one bo.admin_audit_logs row per 200/404 lookup, committed
// before the response leaves. Group commit keeps this cheap under load: callers enqueue their row and
// await a shared flush; a flush starts at once when the writer is idle, and while one is in flight the
// next batch accumulates. Each flush is ONE multi-row INSERT (unnest of column arrays) in autocommit, so
// when the statement returns the whole batch is durable. A failed flush rejects every row in it, and the
// lookups fail closed (503) - an unaudited answer is never sent.
import type pg from 'pg';
import { query } from '../db/pool';

export type AuditResult = 'FOUND' | 'NOT_FOUND' | 'LISTED';

export interface AuditRow {
  occurredAt: Date;
  actorSub: string;
  actorRoles: readonly string[];
  /** Route template, e.g. `/admin/tx/{tx_id}` (never the raw path). */
  route: string;
  params: Record<string, unknown>;
  result: AuditResult;
  statusCode: number;
  durationMs: number;
  resultCount: number;
  clientIp: string | null;
  userAgent: string | null;
  requestId: string;
}

export interface AuditSink {
  /** Resolves once the row is committed; rejects if it could not be. */
  write(row: AuditRow): Promise<void>;
  /** Flush what is queued and stop accepting rows. */
  close(): Promise<void>;
}

interface Pending {
  row: AuditRow;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const INSERT_AUDIT_BATCH = `
INSERT INTO bo.admin_audit_logs
  (occurred_at, sub, actor_roles, route, params, result, status_code, duration_ms, result_count,
   client_ip, user_agent, request_id)
SELECT occurred_at, sub, actor_roles::text[], route, params, result, status_code, duration_ms, result_count,
       client_ip, user_agent, request_id
FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[], $7::int[],
            $8::float8[], $9::int[], $10::text[], $11::text[], $12::text[])
  AS t(occurred_at, sub, actor_roles, route, params, result, status_code, duration_ms, result_count,
       client_ip, user_agent, request_id)`;

const USER_AGENT_MAX = 512;

/** A PostgreSQL array literal for text[] (each row's roles travel as one element of a text array). */
export function textArrayLiteral(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
}

export class GroupCommitAuditWriter implements AuditSink {
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private closed = false;
  /** Rows per flush; the count of flushes is exposed for tests and the benchmark. */
  flushes = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly maxBatch = 256,
  ) {}

  write(row: AuditRow): Promise<void> {
    if (this.closed) return Promise.reject(new Error('audit writer is closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.flushing || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.flushing = this.flush(batch).finally(() => {
      this.flushing = null;
      this.kick();
    });
  }

  private async flush(batch: Pending[]): Promise<void> {
    this.flushes += 1;
    const rows = batch.map((p) => p.row);
    try {
      await query(this.pool, 'audit_insert', { name: 'bo_audit_insert_batch', text: INSERT_AUDIT_BATCH }, [
        rows.map((r) => r.occurredAt),
        rows.map((r) => r.actorSub),
        rows.map((r) => textArrayLiteral(r.actorRoles)),
        rows.map((r) => r.route),
        rows.map((r) => JSON.stringify(r.params)),
        rows.map((r) => r.result),
        rows.map((r) => r.statusCode),
        rows.map((r) => r.durationMs),
        rows.map((r) => r.resultCount),
        rows.map((r) => r.clientIp),
        rows.map((r) => (r.userAgent === null ? null : r.userAgent.slice(0, USER_AGENT_MAX))),
        rows.map((r) => r.requestId),
      ]);
      for (const p of batch) p.resolve();
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing) await this.flushing;
  }
}

// Audit trail of admin lookups (SPEC §4.3): one bo.admin_audit_logs row per 200/404 lookup, committed
// before the response leaves. Group commit keeps this cheap under load: callers enqueue their row and
// await a shared flush (core/coalesce.ts: the rows of one event-loop turn go together, and while both
// flushes are in flight the next batch accumulates). Each flush is ONE multi-row INSERT (unnest of column
// array literals, db/array-literal.ts) in autocommit, so when the statement returns the whole batch is durable. A failed flush rejects
// every row in it, and the lookups fail closed (503) - an unaudited answer is never sent.
import type pg from 'pg';
import { Coalescer } from '../core/coalesce';
import { arrayLiteral } from '../db/array-literal';
import { createPool, query } from '../db/pool';

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

/** Flushes committing at once (the writer's default), one connection each in the audit pool. */
export const AUDIT_FLUSHES_IN_FLIGHT = 2;

/**
 * The audit trail's own pool: a saturated pool of other lookups must not delay its commits. One connection per
 * flush in flight; its one statement planned once per session (db/pool.ts, genericPlans).
 */
export function createAuditPool(url?: string): pg.Pool {
  return createPool(url, AUDIT_FLUSHES_IN_FLIGHT, { genericPlans: true });
}

export class GroupCommitAuditWriter implements AuditSink {
  private readonly batches: Coalescer<AuditRow, void>;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    maxBatch = 256,
    /** Flushes committing at once; createAuditPool gives the audit trail a pool of this many connections. */
    maxInFlight = AUDIT_FLUSHES_IN_FLIGHT,
  ) {
    this.batches = new Coalescer((rows) => this.flush(rows), { maxBatch, maxInFlight });
  }

  /** Flushes (multi-row INSERTs) so far. */
  get flushes(): number {
    return this.batches.batches;
  }

  write(row: AuditRow): Promise<void> {
    if (this.closed) return Promise.reject(new Error('audit writer is closed'));
    return this.batches.submit(row);
  }

  private async flush(rows: AuditRow[]): Promise<void[]> {
    const column = (read: (r: AuditRow) => string | null): string => arrayLiteral(rows.map(read));
    await query(this.pool, 'audit_insert', { name: 'bo_audit_insert_batch', text: INSERT_AUDIT_BATCH }, [
      column((r) => r.occurredAt.toISOString()),
      column((r) => r.actorSub),
      // each row's roles are one text[] literal, itself an element of this text[]
      column((r) => arrayLiteral(r.actorRoles)),
      column((r) => r.route),
      column((r) => JSON.stringify(r.params)),
      column((r) => r.result),
      column((r) => String(r.statusCode)),
      column((r) => String(r.durationMs)),
      column((r) => String(r.resultCount)),
      column((r) => r.clientIp),
      column((r) => (r.userAgent === null ? null : r.userAgent.slice(0, USER_AGENT_MAX))),
      column((r) => r.requestId),
    ]);
    return rows.map(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.batches.idle();
  }
}

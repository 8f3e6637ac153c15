// The audit writer against the real DB: group commit (many concurrent lookups, few INSERTs, every row
// committed before its response) and failing closed (503, no data) when the row cannot be written.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupCommitAuditWriter, type AuditRow } from '../../../api/audit';
import { arrayLiteral } from '../../../db/array-literal';
import { registry } from '../../../core/metrics';
import { createPool } from '../../../db/pool';
import {
  auditRowsFor,
  buildApi,
  databaseUrl,
  get,
  insertEntries,
  rid,
  setupPools,
  uniquePrefix,
} from './support';

const P = uniquePrefix('audit');
const TX = `${P}tx-1`;
let db: pg.Pool;
let auditPool: pg.Pool;

async function auditFailures(): Promise<number> {
  const metric = await registry.getSingleMetric('api_audit_write_failures_total')?.get();
  return metric?.values[0]?.value ?? 0;
}

beforeAll(async () => {
  ({ db, auditPool } = await setupPools());
  await insertEntries(db, [{ tx_id: TX, wallet_id: `${P}w`, event_time: '2026-02-24T10:00:00Z' }]);
});

afterAll(async () => {
  await db.end();
  await auditPool.end();
});

describe('group commit', () => {
  it('commits every row of concurrent lookups in far fewer INSERTs than rows', async () => {
    const writer = new GroupCommitAuditWriter(auditPool, 256);
    const { api } = buildApi({ db, audit: writer });
    const ids = Array.from({ length: 60 }, () => rid('gc'));
    const replies = await Promise.all(
      ids.map((id, i) =>
        get(api, i % 3 === 0 ? `/admin/tx/${P}absent-${i}` : `/admin/tx/${TX}`, { 'x-request-id': id }),
      ),
    );
    expect(replies.map((r) => r.status).sort()).toEqual([...Array(40).fill(200), ...Array(20).fill(404)]);
    const rows = await db.query<{ request_id: string; result: string; sub: string }>(
      `SELECT request_id, result, sub FROM bo.admin_audit_logs WHERE request_id = ANY($1)`,
      [ids],
    );
    expect(rows.rows).toHaveLength(60);
    // who, as `sub` (SPEC §4.3): the auth-disabled local principal
    expect(new Set(rows.rows.map((r) => r.sub))).toEqual(new Set(['local-dev']));
    expect(new Set(rows.rows.map((r) => r.request_id)).size).toBe(60);
    expect(rows.rows.filter((r) => r.result === 'NOT_FOUND')).toHaveLength(20);
    expect(writer.flushes).toBeGreaterThanOrEqual(1);
    expect(writer.flushes).toBeLessThan(30);
    await writer.close();
  });

  it('splits a burst into batches of at most maxBatch rows', async () => {
    const writer = new GroupCommitAuditWriter(auditPool, 4);
    const id = rid('batch');
    const row = (i: number): AuditRow => ({
      occurredAt: new Date(),
      actorSub: 'batch-test',
      actorRoles: ['ADMIN_READ', 'we"ird,role\\x'],
      route: '/admin/tx/{tx_id}',
      params: { tx_id: `${P}${i}`, note: 'quote \' and " and unicode é' },
      result: 'FOUND',
      statusCode: 200,
      durationMs: 1.25,
      resultCount: 1,
      clientIp: null,
      userAgent: 'u'.repeat(2000),
      requestId: id,
    });
    await Promise.all(Array.from({ length: 10 }, (_, i) => writer.write(row(i))));
    // 1 immediate flush with the first row, then the rest accumulated into batches of <= 4
    expect(writer.flushes).toBeGreaterThanOrEqual(3);
    expect(writer.flushes).toBeLessThanOrEqual(4);
    const rows = await auditRowsFor(db, id);
    expect(rows).toHaveLength(10);
    expect(rows[0]?.sub).toBe('batch-test');
    expect(rows[0]?.actor_roles).toEqual(['ADMIN_READ', 'we"ird,role\\x']);
    expect(rows[0]?.params.note).toBe('quote \' and " and unicode é');
    expect(rows[0]?.user_agent).toHaveLength(512);
    await writer.close();
    await expect(writer.write(row(99))).rejects.toThrow(/closed/);
  });

  it('writes PostgreSQL array literals that round-trip', async () => {
    const values = ['a', 'b c', 'd"e', 'f\\g', '{h}', 'i,j', 'NULL', '', null, 'é 😀', '\\"'];
    const res = await db.query<{ a: (string | null)[] }>('SELECT $1::text[] AS a', [arrayLiteral(values)]);
    expect(res.rows[0]?.a).toEqual(values);
    // a literal inside a literal (the audit flush's roles column), and typed elements
    const nested = await db.query<{ roles: string[]; n: number[]; j: unknown[] }>(
      `SELECT ($1::text[])[1]::text[] AS roles, $2::int[] AS n, $3::jsonb[] AS j`,
      [
        arrayLiteral([arrayLiteral(['ADMIN_READ', 'we"ird,role\\x'])]),
        arrayLiteral(['1', '-2']),
        arrayLiteral([JSON.stringify({ id: 'a\\b"c' })]),
      ],
    );
    expect(nested.rows[0]).toEqual({
      roles: ['ADMIN_READ', 'we"ird,role\\x'],
      n: [1, -2],
      j: [{ id: 'a\\b"c' }],
    });
  });
});

describe('failing closed', () => {
  it('refuses the lookup with 503 and no data when the DB rejects the audit INSERT', async () => {
    // A session that may not write: the DB itself refuses the INSERT (as for a user without the grant).
    const readOnly = createPool(
      `${databaseUrl()}?options=${encodeURIComponent('-c default_transaction_read_only=on')}`,
      1,
    );
    const { api, audit } = buildApi({ db, audit: new GroupCommitAuditWriter(readOnly) });
    try {
      const before = await auditFailures();
      for (const path of [`/admin/tx/${TX}`, `/admin/tx/${P}absent`, `/admin/wallets/${P}w/tx`]) {
        const id = rid('fail-closed');
        const r = await get(api, path, { 'x-request-id': id });
        expect(r.status, path).toBe(503);
        expect(r.body).toEqual({
          code: 'SERVICE_UNAVAILABLE',
          message: 'audit log unavailable; lookup refused',
          request_id: id,
        });
        expect(JSON.stringify(r.body)).not.toContain('wallet_id');
        expect(await auditRowsFor(db, id)).toEqual([]);
      }
      expect(await auditFailures()).toBe(before + 3);
    } finally {
      await audit.close();
      await readOnly.end();
    }
  });

  it('refuses with 503 when the audit database is unreachable, and recovers with a working writer', async () => {
    const dead = createPool('postgres://txlookup:txlookup@127.0.0.1:1/txlookup', 1);
    const { api, audit } = buildApi({ db, audit: new GroupCommitAuditWriter(dead) });
    try {
      const r = await get(api, `/admin/tx/${TX}`);
      expect(r.status).toBe(503);
      expect(r.body.code).toBe('SERVICE_UNAVAILABLE');
      // the tRPC side fails closed the same way
      const t = await get(
        api,
        `/trpc/admin.tx.get?input=${encodeURIComponent(JSON.stringify({ tx_id: TX }))}`,
      );
      expect(t.status).toBe(503);
      expect(t.body.error.data.code).toBe('SERVICE_UNAVAILABLE');
      expect(JSON.stringify(t.body)).not.toContain('"wallet_id"');
    } finally {
      await audit.close();
      await dead.end();
    }
    const { api: healthy, audit: healthyAudit } = buildApi({ db, auditPool });
    expect((await get(healthy, `/admin/tx/${TX}`)).status).toBe(200);
    await healthyAudit.close();
  });
});

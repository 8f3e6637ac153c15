// One batch, one transaction: in-batch reduction, DB_REJECTED isolation, DLQ idempotency, failure classes.
import fc from 'fast-check';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DlqInsert,
  applyBatch,
  applyLedgerEntries,
  columnArrayLiteral,
  insertDlqEvents,
} from '../../../db/apply';
import { TransientDbError, classifyPgError } from '../../../db/errors';
import { createPool } from '../../../db/pool';
import {
  apply,
  at,
  databaseUrl,
  dlqMeta,
  entry,
  order,
  readEntry,
  readOrder,
  setupPool,
  uniquePrefix,
} from './support';

let pool: pg.Pool;
const prefix = uniquePrefix('batch');

beforeAll(async () => {
  pool = await setupPool();
});
afterAll(async () => {
  await pool.end();
});

async function dlqRowsFor(
  topic: string,
): Promise<{ reason: string; error_detail: string; offset: number; source: string }[]> {
  const res = await pool.query(
    `SELECT reason, error_detail, "offset", source FROM bo.consumer_dlq_events WHERE topic = $1 ORDER BY "offset"`,
    [topic],
  );
  return res.rows;
}

describe('in-batch reduction', () => {
  it('several versions of one key in one batch do not error; the LWW fold picks the winner', async () => {
    const a = `${prefix}multi-a`;
    const b = `${prefix}multi-b`;
    const o = `${prefix}multi-o`;
    const res = await apply(pool, {
      entries: [
        entry(a, { source_version: 2, amount: '2' }),
        entry(b, { amount: '1' }),
        entry(a, { source_version: 5, amount: '5' }),
        entry(a, { source_version: 3, amount: '3' }),
        entry(b, { amount: '2' }), // unversioned: the later arrival wins
        entry(a, { source_version: 5, amount: '5' }), // exact duplicate of the winner
      ],
      orders: [
        order(o, { updated_at: at(2), status: 'PAID', status_group: 'SUCCESS' }),
        order(o, { updated_at: at(1) }),
      ],
    });
    expect(res.ledger.outcomes).toEqual(['stale', 'stale', 'inserted', 'stale', 'inserted', 'unchanged']);
    expect(res.orders.outcomes).toEqual(['inserted', 'stale']);
    expect((await readEntry(pool, a))?.amount).toBe('5');
    expect((await readEntry(pool, b))?.amount).toBe('2');
    expect((await readOrder(pool, o))?.status).toBe('PAID');

    // The same batch again: every row is unchanged or stale, nothing is written.
    const again = await apply(pool, {
      entries: [entry(a, { source_version: 3, amount: '3' }), entry(a, { source_version: 5, amount: '5' })],
    });
    expect(again.ledger.outcomes).toEqual(['stale', 'unchanged']);
  });
});

describe('parameter array literals', () => {
  it('any text (quotes, backslashes, braces, commas, "NULL", empty, unicode) and NULL reads back from text[] as sent', async () => {
    const nasty = [
      '',
      'NULL',
      'null',
      '"',
      '\\',
      '\\"',
      '{}',
      '{"a"}',
      'a,b',
      ' padded ',
      'tab\there',
      'é漢😀',
    ];
    const anyText = fc.string({ unit: 'grapheme', maxLength: 12 }).filter((x) => !x.includes('\u0000')); // text has no NUL
    const text = fc.oneof(fc.constantFrom(...nasty), anyText);
    const values = fc.array(fc.option(text, { nil: null }), { maxLength: 20 });
    await fc.assert(
      fc.asyncProperty(values, async (vs) => {
        const rows = vs.map((v) => ({ v }));
        const literal = columnArrayLiteral((r) => (r as { v: string | null }).v, true, rows, [
          ...rows.keys(),
        ]);
        const back = await pool.query<{ a: (string | null)[] }>('SELECT $1::text[] AS a', [literal]);
        expect(back.rows[0]!.a).toEqual(vs);
      }),
      { numRuns: 150 },
    );
  });
});

describe('DB_REJECTED isolation', () => {
  it('a row the DB refuses in the middle of a batch: the others are applied, that one is reported and dead-lettered', async () => {
    const topic = `${prefix}topic-rejected`;
    const ok1 = entry(`${prefix}rej-ok-1`);
    const nul = entry(`${prefix}rej-nul`, { currency: 'K\u0000RW' }); // caught by validation before the write
    const ok2 = entry(`${prefix}rej-ok-2`);
    // Valid to JS, refused only by PostgreSQL (timestamp out of range): isolated by SAVEPOINT bisection.
    const farPast = entry(`${prefix}rej-time`, { event_time: new Date(-8.64e15) });
    const tooLong = entry(`${prefix}rej-long`, {
      related_id: 'x'.repeat(600),
      related_type: 'PAYMENT_ORDER',
    });
    const ok3 = entry(`${prefix}rej-ok-3`, {
      entry_type: 'PAYMENT',
      related_id: `${prefix}rej-rel`,
      related_type: 'PAYMENT_ORDER',
    });
    const badOrder = order(`${prefix}rej-order`, { amount: 'NaN' });
    const okOrder = order(`${prefix}rej-order-ok`);

    const res = await apply(
      pool,
      { entries: [ok1, nul, ok2, farPast, tooLong, ok3], orders: [badOrder, okOrder] },
      'consumer',
      topic,
    );
    expect(res.ledger.outcomes).toEqual([
      'inserted',
      'rejected',
      'inserted',
      'rejected',
      'rejected',
      'inserted',
    ]);
    expect(res.ledger.rejected.map((r) => r.index)).toEqual([1, 3, 4]);
    expect(res.ledger.rejected[0]!.detail).toMatch(/currency: contains a NUL/);
    expect(res.ledger.rejected[1]!.detail).toMatch(/^22\d{3} /); // a real PostgreSQL data exception
    expect(res.ledger.rejected[2]!.detail).toMatch(/related_id: length 600/);
    expect(res.orders.outcomes).toEqual(['rejected', 'inserted']);
    expect(res.ledger.pairing.opened).toBe(1);
    for (const e of [ok1, ok2, ok3]) expect(await readEntry(pool, e.tx_id)).toBeDefined();
    for (const e of [nul, farPast, tooLong]) expect(await readEntry(pool, e.tx_id)).toBeUndefined();

    expect(res.dlqInserted).toBe(4);
    const dlq = await dlqRowsFor(topic);
    expect(dlq.map((d) => d.reason)).toEqual(['DB_REJECTED', 'DB_REJECTED', 'DB_REJECTED', 'DB_REJECTED']);
    expect(dlq.map((d) => d.error_detail).sort()).toEqual(
      [...res.ledger.rejected.map((r) => r.detail), res.orders.rejected[0]!.detail].sort(),
    );
  });

  it('the data layer bisects without losing the caller transaction', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const rows = Array.from({ length: 9 }, (_, i) => entry(`${prefix}bisect-${i}`));
      rows[6] = entry(`${prefix}bisect-6`, { updated_at: new Date(-8.64e15) });
      const res = await applyLedgerEntries(client, rows, 'consumer');
      expect(res.rejected.map((r) => r.index)).toEqual([6]);
      expect(res.outcomes.filter((o) => o === 'inserted')).toHaveLength(8);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(await readEntry(pool, `${prefix}bisect-8`)).toBeDefined();
  });
});

describe('dead letters', () => {
  it('re-delivery never duplicates a consumer or backfill dead letter; NUL bytes are storable', async () => {
    const topic = `${prefix}topic-dlq`;
    const rows: DlqInsert[] = [
      {
        ...dlqMeta('consumer', topic),
        offset: '42',
        partition: 3,
        message_key: Buffer.from('key-1'),
        headers: { 'trace\u0000id': 'a\u0000b' },
        raw_value: Buffer.from([0, 1, 2, 255]),
        reason: 'INVALID_JSON',
        error_detail: 'Unexpected token \u0000',
      },
      {
        ...dlqMeta('backfill', topic),
        offset: null,
        partition: null,
        dump_file: `${prefix}dump.ndjson`,
        dump_line: 17,
        reason: 'SCHEMA_VIOLATION',
        error_detail: 'tx_id: required',
      },
    ];
    const client = await pool.connect();
    try {
      expect(await insertDlqEvents(client, rows)).toBe(2);
      expect(await insertDlqEvents(client, rows)).toBe(0);
    } finally {
      client.release();
    }
    const stored = await pool.query(
      `SELECT raw_value, message_key, headers, error_detail FROM bo.consumer_dlq_events WHERE topic = $1 AND source = 'consumer'`,
      [topic],
    );
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0].raw_value).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(stored.rows[0].message_key).toEqual(Buffer.from('key-1'));
    expect(stored.rows[0].headers).toEqual({ 'trace\uFFFDid': 'a\uFFFDb' });
  });

  it('refuses a malformed DLQ row with a clear error before writing', async () => {
    const client = await pool.connect();
    try {
      await expect(
        insertDlqEvents(client, [{ ...dlqMeta(), offset: 'abc', reason: 'INVALID_JSON', error_detail: 'x' }]),
      ).rejects.toThrow(/offset "abc" is not a Kafka offset/);
    } finally {
      client.release();
    }
  });
});

describe('failure classes', () => {
  it('an unreachable database is a TransientDbError', async () => {
    const dead = createPool('postgres://txlookup:txlookup@127.0.0.1:1/txlookup', 1);
    try {
      const err = await applyBatch(dead, {
        source: 'consumer',
        dlq: [],
        orders: [],
        entries: [{ row: entry(`${prefix}dead`), dlq: dlqMeta() }],
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransientDbError);
    } finally {
      await dead.end();
    }
  });

  it('classifies real PostgreSQL errors', async () => {
    const errorOf = (text: string) =>
      pool.query(text).then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(classifyPgError(await errorOf(`SELECT 'abc'::numeric`))).toBe('deterministic'); // 22P02
    expect(classifyPgError(await errorOf(`SELECT 1/0`))).toBe('deterministic'); // 22012
    expect(
      classifyPgError(
        await errorOf(
          `INSERT INTO bo.ops_runs (run_id, kind, status) VALUES ('${prefix}x', 'nope', 'RUNNING')`,
        ),
      ),
    ).toBe('deterministic'); // 23514
    expect(classifyPgError(await errorOf(`SELECT * FROM bo.no_such_table`))).toBe('unknown'); // 42P01: our bug, not the row's
    const client = await pool.connect();
    try {
      await client.query(`SET statement_timeout = 50`);
      const timeout = await client.query(`SELECT pg_sleep(1)`).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(classifyPgError(timeout)).toBe('transient'); // 57014
      await client.query(`RESET statement_timeout`);
    } finally {
      client.release();
    }
    // A backend killed by an administrator (57P01) on a connection we own.
    const victim = createPool(databaseUrl(), 1);
    try {
      const c = await victim.connect();
      const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await pool.query('SELECT pg_terminate_backend($1)', [pid]);
      const killed = await c.query('SELECT 1').then(
        () => undefined,
        (e: unknown) => e,
      );
      c.release(true);
      expect(classifyPgError(killed)).toBe('transient');
    } finally {
      await victim.end();
    }
  });
});

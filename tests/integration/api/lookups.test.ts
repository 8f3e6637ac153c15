// The three lookup contracts (SPEC §4.1-4.2) against the real Backoffice DB, through handle() on both the
// REST bridge and tRPC: shapes and defaults, 404 vs empty 200, exact decimals, data_lag_sec, keyset
// pagination and filters, one DB round trip per lookup, id validation, and the ops endpoints.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import SwaggerParser from '@apidevtools/swagger-parser';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditSink } from '../../../api/audit';
import type { Api } from '../../../api/http';
import { startServer } from '../../../api/server';
import { consumerContractOrderMissingTotal } from '../../../core/metrics';
import { createPool } from '../../../db/pool';
import {
  auditRowsFor,
  buildApi,
  databaseUrl,
  get,
  insertEntries,
  insertOrder,
  insertPair,
  rid,
  setupPools,
  trpcPath,
  uniquePrefix,
} from './support';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const P = uniquePrefix('lookups');
let db: pg.Pool;
let auditPool: pg.Pool;
let api: Api;
let audit: AuditSink;

const W = `${P}w-main`; // wallet with the pairing fixtures
const PW = `${P}w-pages`; // wallet for pagination

beforeAll(async () => {
  ({ db, auditPool } = await setupPools());
  ({ api, audit } = buildApi({ db, auditPool }));

  await insertOrder(db, {
    order_id: `${P}ord-1`,
    status: 'SETTLED',
    status_group: 'SUCCESS',
    source_version: 7,
  });
  await insertOrder(db, { order_id: `${P}ord-2`, status: 'WEIRD_STATUS', status_group: 'UNKNOWN' });
  await insertEntries(db, [
    // complete pair on ord-1
    {
      tx_id: `${P}pay-1`,
      wallet_id: W,
      entry_type: 'PAYMENT',
      amount: '12345678901234567890.123456',
      related_id: `${P}ord-1`,
      event_time: '2026-02-24T10:00:00.000Z',
      ingested_at: '2026-02-24T10:00:00.420Z',
      source_version: 3,
    },
    {
      tx_id: `${P}rcv-1`,
      wallet_id: `${P}w-other`,
      entry_type: 'RECEIVE',
      amount: '1500.00',
      related_id: `${P}ord-1`,
      event_time: '2026-02-24T10:00:00.100Z',
      updated_at: '2026-02-24T10:00:02.000Z',
    },
    // a refund pointing at the order: order status, but it never pairs
    {
      tx_id: `${P}refund-1`,
      wallet_id: W,
      entry_type: 'REFUND',
      amount: '-1500.00',
      related_id: `${P}ord-1`,
      event_time: '2026-02-24T11:00:00.000Z',
    },
    // one-sided payment, no pair row yet, order with an unmapped status
    {
      tx_id: `${P}pay-2`,
      wallet_id: W,
      entry_type: 'PAYMENT',
      related_id: `${P}ord-2`,
      event_time: '2026-02-24T12:00:00Z',
    },
    // no related id at all: related_type defaults to UNKNOWN
    {
      tx_id: `${P}adj-1`,
      wallet_id: W,
      entry_type: 'ADJUSTMENT',
      amount: '0.000001',
      currency: null,
      event_time: '2026-02-24T13:00:00Z',
      ingested_at: '2026-02-24T12:59:59Z', // clock skew upstream: lag clamps at 0
    },
    // related to something that is not a payment order, whose id happens to be an order id
    {
      tx_id: `${P}xfer-1`,
      wallet_id: W,
      entry_type: 'PAYMENT',
      related_id: `${P}ord-1`,
      related_type: 'TRANSFER',
      event_time: '2026-02-24T14:00:00Z',
    },
    // RECEIVE whose order does not exist (yet)
    {
      tx_id: `${P}rcv-3`,
      wallet_id: W,
      entry_type: 'RECEIVE',
      related_id: `${P}ord-missing`,
      event_time: '2026-02-24T15:00:00Z',
    },
  ]);
  await insertPair(db, { related_id: `${P}ord-1`, payment_tx_id: `${P}pay-1`, receive_tx_id: `${P}rcv-1` });

  // Pagination fixtures: ties on event_time, and entries 1 µs apart inside one millisecond.
  await insertEntries(db, [
    { tx_id: `${P}pg-a`, wallet_id: PW, entry_type: 'PAYMENT', event_time: '2026-03-01T00:00:03.000000Z' },
    { tx_id: `${P}pg-b`, wallet_id: PW, entry_type: 'PAYMENT', event_time: '2026-03-01T00:00:03.000000Z' },
    { tx_id: `${P}pg-c`, wallet_id: PW, entry_type: 'RECEIVE', event_time: '2026-03-01T00:00:02.000002Z' },
    { tx_id: `${P}pg-d`, wallet_id: PW, entry_type: 'PAYMENT', event_time: '2026-03-01T00:00:02.000001Z' },
    { tx_id: `${P}pg-e`, wallet_id: PW, entry_type: 'RECEIVE', event_time: '2026-03-01T00:00:01.000000Z' },
    { tx_id: `${P}pg-f`, wallet_id: PW, entry_type: 'PAYMENT', event_time: '2026-03-01T00:00:00.000000Z' },
    { tx_id: `${P}pg-g`, wallet_id: PW, entry_type: 'ADJUSTMENT', event_time: '2026-02-28T23:59:59.999999Z' },
  ]);
});

afterAll(async () => {
  await audit.close();
  await db.end();
  await auditPool.end();
});

// (event_time desc, tx_id desc) of the pagination fixtures
const PAGE_ORDER = ['pg-b', 'pg-a', 'pg-c', 'pg-d', 'pg-e', 'pg-f', 'pg-g'].map((s) => `${P}${s}`);

describe('GET /admin/tx/{tx_id}', () => {
  it('returns the SPEC §4.2 shape with order status, a COMPLETE pair and exact decimals', async () => {
    const r = await get(api, `/admin/tx/${P}pay-1`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      tx_id: `${P}pay-1`,
      wallet_id: W,
      entry_type: 'PAYMENT',
      amount: '12345678901234567890.123456',
      currency: 'KRW',
      event_time: '2026-02-24T10:00:00.000Z',
      updated_at: null,
      source_version: 3,
      ingested_at: '2026-02-24T10:00:00.420Z',
      related_id: `${P}ord-1`,
      related_type: 'PAYMENT_ORDER',
      status: 'SETTLED',
      status_group: 'SUCCESS',
      pairing_status: 'COMPLETE',
      paired_tx_id: `${P}rcv-1`,
      data_lag_sec: 0.42,
    });
    expect(Object.keys(r.body)).toHaveLength(16);
  });

  it('pairs the RECEIVE side back to the PAYMENT and keeps trailing zeros and updated_at', async () => {
    const r = await get(api, `/admin/tx/${P}rcv-1`);
    expect(r.body).toMatchObject({
      amount: '1500.00',
      updated_at: '2026-02-24T10:00:02.000Z',
      pairing_status: 'COMPLETE',
      paired_tx_id: `${P}pay-1`,
      source_version: null,
    });
  });

  it('derives UNKNOWN pairing for types and relations that cannot pair', async () => {
    const refund = (await get(api, `/admin/tx/${P}refund-1`)).body;
    expect(refund).toMatchObject({
      status: 'SETTLED',
      status_group: 'SUCCESS',
      pairing_status: 'UNKNOWN',
      paired_tx_id: null,
    });
    expect(refund.amount).toBe('-1500.00');

    const adj = (await get(api, `/admin/tx/${P}adj-1`)).body;
    expect(adj).toMatchObject({
      related_id: null,
      related_type: 'UNKNOWN',
      status: null,
      status_group: 'UNKNOWN',
      pairing_status: 'UNKNOWN',
      paired_tx_id: null,
      currency: null,
      amount: '0.000001',
      data_lag_sec: 0,
    });

    // related_type TRANSFER: no order join even though an order with that id exists
    const xfer = (await get(api, `/admin/tx/${P}xfer-1`)).body;
    expect(xfer).toMatchObject({
      related_type: 'TRANSFER',
      status: null,
      status_group: 'UNKNOWN',
      pairing_status: 'UNKNOWN',
    });
  });

  it('is INCOMPLETE for a pairable entry without a pair row, with the order status or none', async () => {
    expect((await get(api, `/admin/tx/${P}pay-2`)).body).toMatchObject({
      status: 'WEIRD_STATUS',
      status_group: 'UNKNOWN',
      pairing_status: 'INCOMPLETE',
      paired_tx_id: null,
    });
    expect((await get(api, `/admin/tx/${P}rcv-3`)).body).toMatchObject({
      status: null,
      status_group: 'UNKNOWN',
      pairing_status: 'INCOMPLETE',
    });
  });

  it('counts entries whose payment order row is missing (consumer_contract_order_missing_total)', async () => {
    const missing = async () => (await consumerContractOrderMissingTotal.get()).values[0]?.value ?? 0;
    const before = await missing();
    await get(api, `/admin/tx/${P}pay-2`); // its order exists (unknown status): not counted
    await get(api, `/admin/tx/${P}xfer-1`); // not related to a payment order: not counted
    expect(await missing()).toBe(before);
    await get(api, `/admin/tx/${P}rcv-3`); // names an order the DB has no row for
    expect(await missing()).toBe(before + 1);
  });

  it('404s with the error body when absent', async () => {
    const r = await get(api, `/admin/tx/${P}nope`, { 'x-request-id': 'req-404.a:b' });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({
      code: 'NOT_FOUND',
      message: expect.stringContaining(`${P}nope`),
      request_id: 'req-404.a:b',
    });
    expect(r.headers.get('x-request-id')).toBe('req-404.a:b');
  });

  it('gives the same result over tRPC', async () => {
    const r = await get(api, trpcPath('admin.tx.get', { tx_id: `${P}pay-1` }));
    expect(r.status).toBe(200);
    expect(r.body.result.data).toEqual((await get(api, `/admin/tx/${P}pay-1`)).body);
    const missing = await get(api, trpcPath('admin.tx.get', { tx_id: `${P}nope` }));
    expect(missing.status).toBe(404);
    expect(missing.body.error.data.code).toBe('NOT_FOUND');
  });
});

describe('GET /admin/payment-orders/{order_id}', () => {
  it('returns the order, its entries ordered by (event_time, tx_id) and the pair', async () => {
    const r = await get(api, `/admin/payment-orders/${P}ord-1`);
    expect(r.status).toBe(200);
    const { entries, pair, ...order } = r.body;
    expect(order).toEqual({
      order_id: `${P}ord-1`,
      status: 'SETTLED',
      status_group: 'SUCCESS',
      amount: '1500.00',
      currency: 'KRW',
      payer_wallet_id: 'w-1234567889', // local principal has ADMIN_AUDIT
      payee_wallet_id: 'w-9876543210',
      event_time: '2026-02-24T10:00:00.000Z',
      updated_at: null,
      source_version: 7,
      ingested_at: '2026-02-24T10:00:01.000Z',
    });
    // the TRANSFER entry shares the id but is not related to the order as a PAYMENT_ORDER
    expect(entries.map((e: { tx_id: string }) => e.tx_id)).toEqual([
      `${P}pay-1`,
      `${P}rcv-1`,
      `${P}refund-1`,
    ]);
    expect(entries[0]).toEqual((await get(api, `/admin/tx/${P}pay-1`)).body);
    expect(entries[1]).toEqual((await get(api, `/admin/tx/${P}rcv-1`)).body);
    expect(entries[2]).toEqual((await get(api, `/admin/tx/${P}refund-1`)).body);
    expect(pair).toEqual({
      related_id: `${P}ord-1`,
      payment_tx_id: `${P}pay-1`,
      receive_tx_id: `${P}rcv-1`,
      pairing_status: 'COMPLETE',
      first_seen_at: '2026-02-24T10:00:00.500Z',
      completed_at: '2026-02-24T10:00:01.500Z',
      conflict_count: 0,
      conflict_tx_ids: [],
    });
  });

  it('has pair null and the entries INCOMPLETE when no pair row exists; 404 when the order is absent', async () => {
    const r = await get(api, `/admin/payment-orders/${P}ord-2`);
    expect(r.body.pair).toBeNull();
    expect(r.body.entries).toHaveLength(1);
    expect(r.body.entries[0]).toMatchObject({
      tx_id: `${P}pay-2`,
      pairing_status: 'INCOMPLETE',
      status: 'WEIRD_STATUS',
    });
    const missing = await get(api, `/admin/payment-orders/${P}ord-missing`);
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('NOT_FOUND');
  });
});

describe('GET /admin/wallets/{wallet_id}/tx', () => {
  it('is 200 with an empty list for an unknown wallet (not 404)', async () => {
    const r = await get(api, `/admin/wallets/${P}w-empty/tx`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ wallet_id: `${P}w-empty`, items: [], next_cursor: null });
  });

  it('lists newest first with ties broken by tx_id desc', async () => {
    const r = await get(api, `/admin/wallets/${PW}/tx`);
    expect(r.body.items.map((e: { tx_id: string }) => e.tx_id)).toEqual(PAGE_ORDER);
    expect(r.body.next_cursor).toBeNull();
    // the 1 µs difference is below JSON's millisecond precision but still orders the rows
    expect(r.body.items[2].event_time).toBe(r.body.items[3].event_time);
  });

  for (const limit of [1, 2, 3]) {
    it(`pages through all rows with limit ${limit}: no duplicates, no gaps`, async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const r = await get(api, `/admin/wallets/${PW}/tx${q}`);
        expect(r.status).toBe(200);
        expect(r.body.items.length).toBeLessThanOrEqual(limit);
        seen.push(...r.body.items.map((e: { tx_id: string }) => e.tx_id));
        cursor = r.body.next_cursor;
        pages++;
      } while (cursor && pages < 20);
      expect(seen).toEqual(PAGE_ORDER);
      expect(pages).toBe(Math.ceil(PAGE_ORDER.length / limit));
    });
  }

  it('pages the same way over tRPC', async () => {
    const first = await get(api, trpcPath('admin.wallets.listTx', { wallet_id: PW, limit: 4 }));
    const page1 = first.body.result.data;
    const second = await get(
      api,
      trpcPath('admin.wallets.listTx', { wallet_id: PW, limit: 4, cursor: page1.next_cursor }),
    );
    const page2 = second.body.result.data;
    expect([...page1.items, ...page2.items].map((e: { tx_id: string }) => e.tx_id)).toEqual(PAGE_ORDER);
    expect(page2.next_cursor).toBeNull();
  });

  it('filters on from (inclusive), to (exclusive) and entry_type, also across pages', async () => {
    const ids = async (q: string): Promise<string[]> => {
      const r = await get(api, `/admin/wallets/${PW}/tx?${q}`);
      expect(r.status).toBe(200);
      return r.body.items.map((e: { tx_id: string }) => e.tx_id);
    };
    const from = encodeURIComponent('2026-03-01T00:00:00Z');
    const to = encodeURIComponent('2026-03-01T09:00:03+09:00'); // = 00:00:03Z, exclusive
    expect(await ids(`from=${from}&to=${to}`)).toEqual(['pg-c', 'pg-d', 'pg-e', 'pg-f'].map((s) => P + s));
    expect(await ids(`entry_type=RECEIVE`)).toEqual(['pg-c', 'pg-e'].map((s) => P + s));
    expect(await ids(`entry_type=PAYMENT&from=${from}&to=${to}`)).toEqual(['pg-d', 'pg-f'].map((s) => P + s));

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r = await get(
        api,
        `/admin/wallets/${PW}/tx?limit=1&entry_type=PAYMENT&from=${from}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      seen.push(...r.body.items.map((e: { tx_id: string }) => e.tx_id));
      cursor = r.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(['pg-b', 'pg-a', 'pg-d', 'pg-f'].map((s) => P + s));
  });

  it('uses limit 50 by default and fetches one more row only to know about a next page', async () => {
    const big = `${P}w-big`;
    await db.query(
      `INSERT INTO bo.ledger_entries (tx_id, wallet_id, entry_type, amount, related_type, event_time, ingested_at, source)
       SELECT $1 || lpad(i::text, 3, '0'), $2, 'PAYMENT', i, 'UNKNOWN',
              timestamptz '2026-01-01' + i * interval '1 minute', now(), 'backfill'
       FROM generate_series(1, 51) AS i`,
      [`${P}big-`, big],
    );
    const r = await get(api, `/admin/wallets/${big}/tx`);
    expect(r.body.items).toHaveLength(50);
    expect(r.body.items[0].tx_id).toBe(`${P}big-051`);
    expect(r.body.next_cursor).toEqual(expect.any(String));
    const rest = await get(api, `/admin/wallets/${big}/tx?cursor=${encodeURIComponent(r.body.next_cursor)}`);
    expect(rest.body.items.map((e: { tx_id: string }) => e.tx_id)).toEqual([`${P}big-001`]);
    expect(rest.body.next_cursor).toBeNull();
    const exact = await get(api, `/admin/wallets/${big}/tx?limit=51`);
    expect(exact.body.items).toHaveLength(51);
    expect(exact.body.next_cursor).toBeNull();
  });

  it('answers 400 for a tampered or foreign cursor and for bad limits / timestamps', async () => {
    const r = await get(api, `/admin/wallets/${PW}/tx?limit=2`);
    const cursor: string = r.body.next_cursor;
    const tampered = cursor.slice(0, 3) + (cursor[3] === 'A' ? 'B' : 'A') + cursor.slice(4);
    for (const q of [
      `cursor=${encodeURIComponent(tampered)}`,
      `cursor=garbage`,
      `cursor=`,
      `limit=0`,
      `limit=201`,
      `limit=abc`,
      `limit=1.5`,
      `from=yesterday`,
      `from=2026-03-01T00:00:00`, // no zone
      `to=2026-13-01T00:00:00Z`,
      `from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z`,
      `entry_type=${encodeURIComponent("PAYMENT' OR '1'='1")}`,
    ]) {
      const bad = await get(api, `/admin/wallets/${PW}/tx?${q}`, { 'x-request-id': 'bad-query' });
      expect(bad.status, q).toBe(400);
      expect(bad.body, q).toEqual({
        code: 'BAD_REQUEST',
        message: expect.any(String),
        request_id: 'bad-query',
      });
    }
    const foreign = await get(api, `/admin/wallets/${W}/tx?cursor=${encodeURIComponent(cursor)}`);
    expect(foreign.status).toBe(400);
  });
});

describe('one DB round trip per lookup', () => {
  it('runs exactly one query on the lookup pool for each endpoint', async () => {
    const counted = createPool(databaseUrl(), 2);
    let queries = 0;
    const original = counted.query.bind(counted) as (...args: unknown[]) => unknown;
    (counted as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      queries++;
      return original(...args);
    };
    const { api: countedApi, audit: countedAudit } = buildApi({ db: counted, auditPool });
    try {
      for (const path of [
        `/admin/tx/${P}pay-1`,
        `/admin/tx/${P}nope`,
        `/admin/payment-orders/${P}ord-1`,
        `/admin/wallets/${PW}/tx?limit=3`,
        `/admin/wallets/${PW}/tx?limit=200&from=2026-01-01T00:00:00Z&entry_type=PAYMENT`,
        trpcPath('admin.paymentOrders.get', { order_id: `${P}ord-1` }),
      ]) {
        queries = 0;
        const r = await get(countedApi, path);
        expect(r.status, path).toBeLessThan(500);
        expect(queries, path).toBe(1);
      }
    } finally {
      await countedAudit.close();
      await counted.end();
    }
  });
});

describe('concurrent /admin/tx lookups share statements', () => {
  const ids = ['pay-1', 'rcv-1', 'refund-1', 'pay-2', 'adj-1', 'xfer-1', 'rcv-3', 'absent-1', 'absent-2'];

  /** A pool that counts statements and can be told to fail them. */
  function countingPool(): { pool: pg.Pool; count: () => number; fail: (on: boolean) => void } {
    const pool = createPool(databaseUrl(), 2);
    let queries = 0;
    let failing = false;
    const original = pool.query.bind(pool) as (...args: unknown[]) => unknown;
    (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      queries++;
      if (failing)
        return Promise.reject(Object.assign(new Error('injected lookup failure'), { code: '57P01' }));
      return original(...args);
    };
    return { pool, count: () => queries, fail: (on) => (failing = on) };
  }

  it('answers each of many concurrent calls (repeats and misses included) as it answers them one by one', async () => {
    const one = await Promise.all(ids.map((id) => get(api, `/admin/tx/${P}${id}`)));
    const counted = countingPool();
    const { api: countedApi, audit: countedAudit } = buildApi({ db: counted.pool, auditPool });
    try {
      const calls = Array.from({ length: 45 }, (_, i) => ids[i % ids.length] as string);
      const requestIds = calls.map(() => rid('coalesce'));
      const replies = await Promise.all(
        calls.map((id, i) =>
          get(countedApi, `/admin/tx/${P}${id}`, { 'x-request-id': requestIds[i] as string }),
        ),
      );
      calls.forEach((id, i) => {
        const expected = one[ids.indexOf(id)];
        expect(replies[i]?.status, id).toBe(expected?.status);
        if (expected?.status === 200) expect(replies[i]?.body, id).toEqual(expected.body);
        else expect(replies[i]?.body.code, id).toBe('NOT_FOUND');
      });
      expect(replies.filter((r) => r.status === 404)).toHaveLength(10);
      // 45 lookups, a handful of statements (one per event-loop turn and free slot)
      expect(counted.count()).toBeLessThanOrEqual(5);
      // still one audit row per call, each with its own outcome
      const rows = await db.query<{ request_id: string; result: string }>(
        'SELECT request_id, result FROM bo.admin_audit_logs WHERE request_id = ANY($1)',
        [requestIds],
      );
      expect(rows.rows).toHaveLength(45);
      expect(rows.rows.filter((r) => r.result === 'NOT_FOUND')).toHaveLength(10);
    } finally {
      await countedAudit.close();
      await counted.pool.end();
    }
  });

  it('fails every call of a failed statement with 500, unaudited, and serves the next calls', async () => {
    const counted = countingPool();
    const { api: countedApi, audit: countedAudit } = buildApi({ db: counted.pool, auditPool });
    try {
      counted.fail(true);
      const requestIds = ids.map(() => rid('coalesce-fail'));
      const failed = await Promise.all(
        ids.map((id, i) =>
          get(countedApi, `/admin/tx/${P}${id}`, { 'x-request-id': requestIds[i] as string }),
        ),
      );
      for (const r of failed) {
        expect(r.status).toBe(500);
        expect(r.body).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', message: 'internal error' });
      }
      const audited = await db.query('SELECT 1 FROM bo.admin_audit_logs WHERE request_id = ANY($1)', [
        requestIds,
      ]);
      expect(audited.rowCount).toBe(0);
      counted.fail(false);
      const after = await get(countedApi, `/admin/tx/${P}pay-1`);
      expect(after.status).toBe(200);
      expect(after.body.tx_id).toBe(`${P}pay-1`);
    } finally {
      await countedAudit.close();
      await counted.pool.end();
    }
  });
});

describe('id validation', () => {
  const badIds = [
    "' OR 1=1 --",
    'tx-1; DROP TABLE bo.ledger_entries',
    '"quoted"',
    'tx 1',
    'a/b',
    'a\\b',
    'tx\u0000nul',
    'é',
    '😀',
    '트랜잭션',
    'x'.repeat(129),
    'x'.repeat(10_000),
    '%',
  ];

  it('answers 400 (never 500) on REST for ids breaking the rule', async () => {
    for (const id of badIds) {
      // wallet_id is free text (SPEC §1.2): of these only NUL and the over-long ones break its rule.
      const walletBad = id.includes('\u0000') || id.length > 128;
      for (const path of [
        `/admin/tx/${encodeURIComponent(id)}`,
        `/admin/payment-orders/${encodeURIComponent(id)}`,
        ...(walletBad ? [`/admin/wallets/${encodeURIComponent(id)}/tx`] : []),
      ]) {
        const r = await get(api, path, { 'x-request-id': 'bad-id' });
        expect(r.status, `${path.slice(0, 80)}`).toBe(400);
        expect(r.body).toEqual({
          code: 'BAD_REQUEST',
          message: expect.stringMatching(/must be 1\.\.128/),
          request_id: 'bad-id',
        });
        expect(JSON.stringify(r.body)).not.toMatch(/at .*\.ts|stack/i);
      }
    }
    for (const path of ['/admin/tx/', '/admin/payment-orders/', '/admin/wallets//tx', '/admin/tx']) {
      expect((await get(api, path)).status, path).toBe(400);
    }
  });

  it('answers 400 on tRPC for the same ids, and for an empty one', async () => {
    for (const id of [...badIds, '']) {
      const r = await get(api, trpcPath('admin.tx.get', { tx_id: id }));
      expect(r.status, id.slice(0, 40)).toBe(400);
      expect(r.body.error.data.code).toBe('BAD_REQUEST');
      expect(r.body.error.data.stack).toBeUndefined();
    }
  });

  it('accepts every character of the rule, also percent-encoded', async () => {
    const odd = `${P}A.z_0:9-x`;
    await insertEntries(db, [{ tx_id: odd, wallet_id: W, event_time: '2026-02-24T10:00:00Z' }]);
    expect((await get(api, `/admin/tx/${odd}`)).body.tx_id).toBe(odd);
    expect((await get(api, `/admin/tx/${encodeURIComponent(odd)}`)).body.tx_id).toBe(odd);
    expect((await get(api, `/admin/tx/${odd.replace(/:/g, '%3a')}`)).status).toBe(200);
  });

  it('takes any wallet_id of 1..128 characters (free text, SPEC §1.2), percent-encoded on REST', async () => {
    const wallets = [
      `${P}w with space`,
      `${P}w/slash?q#h`,
      `${P}지갑-1`,
      `${P}'; DROP TABLE x --`,
      `${P}100%`,
      // 128 characters, 256 UTF-16 units: the limit counts characters, as the DB does.
      `${P}${'😀'.repeat(128 - P.length)}`,
    ];
    for (const [i, wallet] of wallets.entries()) {
      const tx = `${P}free-${i}`;
      await insertEntries(db, [{ tx_id: tx, wallet_id: wallet, event_time: '2026-02-24T10:00:00Z' }]);
      const id = rid(`free-wallet-${i}`);
      const rest = await get(api, `/admin/wallets/${encodeURIComponent(wallet)}/tx`, { 'x-request-id': id });
      expect(rest.status, wallet).toBe(200);
      expect(rest.body.wallet_id).toBe(wallet);
      expect(rest.body.items.map((e: { tx_id: string }) => e.tx_id)).toEqual([tx]);
      expect(rest.body.items[0].wallet_id).toBe(wallet);
      const trpc = await get(api, trpcPath('admin.wallets.listTx', { wallet_id: wallet }));
      expect(trpc.status, wallet).toBe(200);
      expect(trpc.body.result.data.items.map((e: { tx_id: string }) => e.tx_id)).toEqual([tx]);
      // The audit row records the wallet id itself, not its URL encoding.
      const [row] = await auditRowsFor(db, id);
      expect(row?.params).toMatchObject({ wallet_id: wallet });
    }
    // tRPC takes the value as it is: a literal "%20" is not decoded there.
    const literal = `${P}w%20x`;
    await insertEntries(db, [
      { tx_id: `${P}free-literal`, wallet_id: literal, event_time: '2026-02-24T10:00:00Z' },
    ]);
    const trpc = await get(api, trpcPath('admin.wallets.listTx', { wallet_id: literal }));
    expect(trpc.body.result.data.items).toHaveLength(1);
    // ...and on REST it is sent encoded once more.
    const rest = await get(api, `/admin/wallets/${encodeURIComponent(literal)}/tx`);
    expect(rest.body.items).toHaveLength(1);
    // Broken percent-encoding, NUL and 129 characters are 400s on both transports.
    for (const path of [
      '/admin/wallets/%E0%A4%A/tx',
      '/admin/wallets/%2%41/tx', // a broken escape stays broken (never read as %2A)
      `/admin/wallets/${encodeURIComponent('w\u0000')}/tx`,
      `/admin/wallets/${encodeURIComponent('😀'.repeat(129))}/tx`,
    ]) {
      const r = await get(api, path);
      expect(r.status, path).toBe(400);
      expect(r.body.code).toBe('BAD_REQUEST');
    }
    for (const wallet of ['', 'w\u0000', '😀'.repeat(129)]) {
      expect((await get(api, trpcPath('admin.wallets.listTx', { wallet_id: wallet }))).status).toBe(400);
    }
  });

  it('audits none of the 400s', async () => {
    const id = rid('bad-audit');
    expect(
      (await get(api, `/admin/tx/${encodeURIComponent("' OR 1=1")}`, { 'x-request-id': id })).status,
    ).toBe(400);
    expect((await get(api, `/admin/wallets/${PW}/tx?limit=0`, { 'x-request-id': id })).status).toBe(400);
    expect(await auditRowsFor(db, id)).toEqual([]);
  });
});

describe('audit rows of lookups', () => {
  it('writes exactly one committed row per 200/404 lookup, with who/what/result', async () => {
    const cases: [string, string, Record<string, unknown>, string, number, number][] = [
      [`/admin/tx/${P}pay-1`, '/admin/tx/{tx_id}', { tx_id: `${P}pay-1` }, 'FOUND', 200, 1],
      [`/admin/tx/${P}nope`, '/admin/tx/{tx_id}', { tx_id: `${P}nope` }, 'NOT_FOUND', 404, 0],
      [
        `/admin/payment-orders/${P}ord-1`,
        '/admin/payment-orders/{order_id}',
        { order_id: `${P}ord-1` },
        'FOUND',
        200,
        1,
      ],
      [
        `/admin/payment-orders/${P}x`,
        '/admin/payment-orders/{order_id}',
        { order_id: `${P}x` },
        'NOT_FOUND',
        404,
        0,
      ],
      [
        `/admin/wallets/${PW}/tx?limit=3&entry_type=PAYMENT`,
        '/admin/wallets/{wallet_id}/tx',
        { wallet_id: PW, limit: 3, entry_type: 'PAYMENT' },
        'LISTED',
        200,
        3,
      ],
      [
        `/admin/wallets/${P}w-empty/tx`,
        '/admin/wallets/{wallet_id}/tx',
        { wallet_id: `${P}w-empty`, limit: 50 },
        'LISTED',
        200,
        0,
      ],
    ];
    for (const [path, route, params, result, status, count] of cases) {
      const id = rid('audit');
      const before = Date.now();
      const r = await get(api, path, { 'x-request-id': id, 'user-agent': 'vitest-agent/1.0' }, '192.0.2.7');
      expect(r.status).toBe(status);
      // committed before the response: visible to another connection right away
      const rows = await auditRowsFor(db, id);
      expect(rows, path).toHaveLength(1);
      const row = rows[0]!;
      expect(row).toMatchObject({
        sub: 'local-dev',
        actor_roles: ['ADMIN_READ', 'ADMIN_AUDIT'],
        route,
        params,
        result,
        status_code: status,
        result_count: count,
        client_ip: '192.0.2.7',
        user_agent: 'vitest-agent/1.0',
        request_id: id,
      });
      expect(row.duration_ms).toBeGreaterThan(0);
      expect(row.duration_ms).toBeLessThan(10_000);
      expect(row.occurred_at.getTime()).toBeGreaterThanOrEqual(before - 1000);
    }
  });

  it('writes one row per procedure call over tRPC', async () => {
    const id = rid('audit-trpc');
    const r = await get(api, trpcPath('admin.tx.get', { tx_id: `${P}pay-1` }), { 'x-request-id': id });
    expect(r.status).toBe(200);
    const rows = await auditRowsFor(db, id);
    expect(rows.map((x) => [x.route, x.result])).toEqual([['/admin/tx/{tx_id}', 'FOUND']]);
  });
});

describe('request ids', () => {
  it('echoes a sane x-request-id and replaces an insane one, on every response', async () => {
    for (const path of [
      '/healthz',
      `/admin/tx/${P}pay-1`,
      '/nowhere',
      `/admin/tx/${encodeURIComponent('é')}`,
    ]) {
      const sane = await get(api, path, { 'x-request-id': 'abc.DEF_1:2-3' });
      expect(sane.headers.get('x-request-id'), path).toBe('abc.DEF_1:2-3');
      const insane = await get(api, path, { 'x-request-id': 'has space; and <tags>' });
      expect(insane.headers.get('x-request-id'), path).toMatch(/^[0-9a-f-]{36}$/);
      const none = await get(api, path);
      expect(none.headers.get('x-request-id'), path).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});

describe('ops endpoints', () => {
  it('serves /healthz and /readyz', async () => {
    expect(await get(api, '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await get(api, '/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
  });

  it('answers /readyz 503 when the DB is unreachable', async () => {
    const dead = createPool('postgres://txlookup:txlookup@127.0.0.1:1/txlookup', 1);
    const { api: deadApi, audit: deadAudit } = buildApi({ db: dead });
    try {
      const r = await get(deadApi, '/readyz', { 'x-request-id': 'ready-dead' });
      expect(r.status).toBe(503);
      expect(r.body).toEqual({
        code: 'SERVICE_UNAVAILABLE',
        message: 'database unreachable',
        request_id: 'ready-dead',
      });
      expect((await get(deadApi, '/healthz')).status).toBe(200);
    } finally {
      await deadAudit.close();
      await dead.end();
    }
  });

  it('serves a valid OpenAPI document with the three routes and bearer security', async () => {
    const r = await get(api, '/openapi.json');
    expect(r.status).toBe(200);
    const doc = r.body;
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/admin/tx/{tx_id}',
        '/admin/payment-orders/{order_id}',
        '/admin/wallets/{wallet_id}/tx',
      ]),
    );
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/admin/tx/{tx_id}'].get.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/admin/tx/{tx_id}'].get.responses['404'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/ApiError',
    });
    await expect(SwaggerParser.validate(structuredClone(doc))).resolves.toBeTruthy();
  });

  it('serves the docs page and its assets from swagger-ui-dist', async () => {
    const page = await get(api, '/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.body).toContain('/docs/swagger-ui-bundle.js');
    const init = await get(api, '/docs/swagger-initializer.js');
    expect(init.body).toContain("url: '/openapi.json'");
    const bundle = await api.handle(new Request('http://127.0.0.1:8080/docs/swagger-ui-bundle.js'));
    expect(bundle.status).toBe(200);
    expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
    expect((await get(api, '/docs/../package.json')).status).toBe(404);
    expect((await get(api, '/docs/swagger-ui.js.map')).status).toBe(404);
  });

  it('labels metrics with the route template, never the raw id', async () => {
    await get(api, `/admin/tx/${P}metric-probe`);
    const r = await get(api, '/metrics');
    expect(r.status).toBe(200);
    const text: string = r.body;
    expect(text).toMatch(
      /api_request_latency_seconds_bucket\{[^}]*route="\/admin\/tx\/\{tx_id\}"[^}]*status="404"/,
    );
    expect(text).toMatch(
      /api_requests_total\{method="GET",route="\/admin\/tx\/\{tx_id\}",status="200"\} \d+/,
    );
    expect(text).toContain('api_requests_inflight');
    expect(text).not.toContain('metric-probe');
  });

  it('answers unknown routes and methods with a 404 JSON error', async () => {
    for (const [method, path] of [
      ['GET', '/nowhere'],
      ['GET', '/admin/unknown/x'],
      ['POST', `/admin/tx/${P}pay-1`],
      ['DELETE', '/healthz'],
    ] as const) {
      const res = await api.handle(
        new Request(`http://127.0.0.1:8080${path}`, { method, headers: { 'x-request-id': 'nf' } }),
      );
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(await res.json()).toEqual({ code: 'NOT_FOUND', message: expect.any(String), request_id: 'nf' });
    }
  });
});

describe('lookup CLI over a real socket', () => {
  const run = (
    args: string[],
    url: string,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'api/lookup-cli.ts', ...args, '--url', url], {
        cwd: repoRoot,
        env: { ...process.env, TXLOOKUP_TOKEN: '' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });

  it('prints a found entry (exit 0), JSON with --json, and exits 1 with a clear message on NOT_FOUND', async () => {
    const server = await startServer(api, { host: '127.0.0.1', port: 0 });
    try {
      const found = await run(['tx', `${P}pay-1`], server.url);
      expect(found.code).toBe(0);
      expect(found.stdout).toContain(`ledger entry ${P}pay-1`);
      expect(found.stdout).toMatch(/paired_tx_id\s+\S+rcv-1/);
      const json = await run(['wallet', PW, '--limit', '2', '--json'], server.url);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout).items).toHaveLength(2);
      const missing = await run(['order', `${P}ord-none`], server.url);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain(`not found: no payment order with order_id ${P}ord-none`);
      const usage = await run(['nonsense'], server.url);
      expect(usage.code).toBe(2);
    } finally {
      await server.close();
    }
  }, 60_000);
});

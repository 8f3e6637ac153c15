// DLQ replay against real PostgreSQL: rows dead-lettered under one contract are re-decoded with the
// current one; dry run changes nothing; a replay marks every row; replaying twice changes nothing.
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../../activities';
import { getProfile } from '../../../contract';
import { insertDlqEvents, type DlqInsert } from '../../../db/apply';
import { DlqReplayInputError, replayDlq } from '../../../sync/dlq-replay';
import { withTopics } from '../../../sync/kafka';
import { randomTag, snapshot, testPool } from './support';

const tag = randomTag();
const prefix = `itd-${tag}-`;
const topics = { ledger: `it-${tag}-dlq-ledger`, order: `it-${tag}-dlq-order` };
let pool: pg.Pool;

beforeAll(async () => {
  pool = testPool();
});
afterAll(async () => {
  await pool?.end();
});

function consumerRow(
  topic: string,
  offset: number,
  raw: string | Buffer,
  reason: DlqInsert['reason'] = 'SCHEMA_VIOLATION',
): DlqInsert {
  return {
    source: 'consumer',
    profile_id: 'canonical-v1',
    topic,
    partition: 0,
    offset: String(offset),
    message_key: Buffer.from(`k${offset}`),
    headers: { origin: 'test' },
    raw_value: Buffer.isBuffer(raw) ? raw : Buffer.from(raw),
    reason,
    error_detail: 'original failure',
  };
}

async function dlqState(ids: string[]) {
  return (
    await pool.query(
      'SELECT id::text, reason, error_detail, replayed_at, replay_result, replay_count FROM bo.consumer_dlq_events WHERE id = ANY($1::bigint[]) ORDER BY id',
      [ids],
    )
  ).rows;
}

describe('dlq replay', () => {
  it('applies what the current contract accepts, marks every row, dry run and a second replay change nothing', async () => {
    // Legacy camelCase messages that reached topics while the consumer ran canonical-v1 (SCHEMA_VIOLATION),
    // a truncated message, a message of a topic the profile does not map, and a backfill line.
    const legacyEntry = {
      txId: `${prefix}tx-1`,
      walletId: `${prefix}w-1`,
      entryType: 'PAYMENT',
      amount: '10.50',
      relatedId: `${prefix}ord-1`,
      createdAt: '2026-02-24T10:00:00Z',
      version: 2,
    };
    const legacyReceive = {
      ...legacyEntry,
      txId: `${prefix}tx-2`,
      walletId: `${prefix}w-2`,
      entryType: 'RECEIVE',
    };
    const staleEntry = { ...legacyEntry, amount: '9.99', version: 1 }; // older version of tx-1: LWW keeps v2
    const legacyOrder = {
      type: 'PAYMENT_ORDER_UPSERTED',
      data: {
        orderId: `${prefix}ord-1`,
        status: 'SETTLED',
        amount: 10.5,
        createdAt: '2026-02-24T10:00:00+09:00',
        updatedAt: '2026-02-24T10:00:05+09:00',
      },
    };
    await insertDlqEvents(pool as unknown as pg.ClientBase, [
      consumerRow(topics.ledger, 1, JSON.stringify(legacyEntry)),
      consumerRow(topics.ledger, 2, JSON.stringify(staleEntry)),
      consumerRow(topics.order, 1, JSON.stringify(legacyOrder), 'UNKNOWN_EVENT_TYPE'),
      consumerRow(topics.order, 2, '{"orderId": "trunc', 'INVALID_JSON'),
      consumerRow(`it-${tag}-unmapped`, 1, JSON.stringify(legacyEntry), 'UNMAPPED_TOPIC'),
      {
        ...consumerRow(
          topics.ledger,
          0,
          JSON.stringify({ type: 'LEDGER_ENTRY_UPSERTED', data: legacyReceive }),
        ),
        source: 'backfill',
        topic: null,
        partition: null,
        offset: null,
        message_key: null,
        headers: null,
        dump_file: `${tag}-dump.ndjson`,
        dump_line: 7,
      },
    ]);
    const ids: string[] = (
      await pool.query(
        `SELECT id::text FROM bo.consumer_dlq_events WHERE topic LIKE $1 OR dump_file = $2 ORDER BY id`,
        [`it-${tag}-%`, `${tag}-dump.ndjson`],
      )
    ).rows.map((r) => r.id);
    expect(ids).toHaveLength(6);
    const profile = withTopics(getProfile('oltp-legacy-v0'), topics);

    // Dry run: the counts of a real run, and nothing changes.
    const beforeBusiness = await snapshot(pool, prefix);
    const beforeDlq = await dlqState(ids);
    const dry = await replayDlq({ ids }, { profile, pool, dryRun: true, batchSize: 4 });
    expect(dry).toEqual({ matched: 6, applied: 4, stillFailing: 1, skipped: 1, dryRun: true });
    expect(await snapshot(pool, prefix)).toEqual(beforeBusiness);
    expect(await dlqState(ids)).toEqual(beforeDlq);

    // Real run.
    const progress: number[] = [];
    const real = await replayDlq(
      { ids },
      { profile, pool, batchSize: 4, onProgress: (p) => progress.push(p.matched) },
    );
    expect(real).toEqual({ matched: 6, applied: 4, stillFailing: 1, skipped: 1, dryRun: false });
    expect(progress).toEqual([4, 6]);
    const after = await dlqState(ids);
    expect(after.map((r) => r.replay_result)).toEqual([
      'APPLIED',
      'APPLIED',
      'APPLIED',
      'STILL_FAILING',
      'SKIPPED',
      'APPLIED',
    ]);
    expect(after.every((r) => r.replay_count === 1 && r.replayed_at instanceof Date)).toBe(true);
    expect(after[3]!.error_detail).not.toBe('original failure');
    const entries = (
      await pool.query(
        'SELECT tx_id, amount, source_version, source FROM bo.ledger_entries WHERE tx_id LIKE $1 ORDER BY tx_id',
        [`${prefix}%`],
      )
    ).rows;
    expect(entries).toEqual([
      { tx_id: `${prefix}tx-1`, amount: '10.50', source_version: 2, source: 'replay' },
      { tx_id: `${prefix}tx-2`, amount: '10.50', source_version: 2, source: 'replay' },
    ]);
    const order = (
      await pool.query('SELECT status, status_group, amount FROM bo.payment_orders WHERE order_id = $1', [
        `${prefix}ord-1`,
      ])
    ).rows[0];
    expect(order).toEqual({ status: 'SETTLED', status_group: 'SUCCESS', amount: '10.5' });
    const pair = (
      await pool.query('SELECT pairing_status FROM bo.payment_ledger_pairs WHERE related_id = $1', [
        `${prefix}ord-1`,
      ])
    ).rows[0];
    expect(pair?.pairing_status).toBe('COMPLETE');

    // Second replay: APPLIED rows are not selected; the business tables do not change.
    const businessAfter = await snapshot(pool, prefix);
    const again = await replayDlq({ ids }, { profile, pool });
    expect(again).toEqual({ matched: 2, applied: 0, stillFailing: 1, skipped: 1, dryRun: false });
    expect(await snapshot(pool, prefix)).toEqual(businessAfter);
    const final = await dlqState(ids);
    expect(final.filter((r) => r.replay_result === 'APPLIED')).toEqual(
      after.filter((r) => r.replay_result === 'APPLIED'),
    );

    // Filters narrow the selection.
    expect(await replayDlq({ topic: `it-${tag}-unmapped` }, { profile, pool, dryRun: true })).toMatchObject({
      matched: 1,
      skipped: 1,
    });
    expect(await replayDlq({ ids, reason: 'INVALID_JSON' }, { profile, pool, dryRun: true })).toMatchObject({
      matched: 1,
      stillFailing: 1,
    });
    expect(
      await replayDlq({ ids, from: new Date(Date.now() + 60_000) }, { profile, pool, dryRun: true }),
    ).toMatchObject({ matched: 0 });
    await expect(replayDlq({ ids: ['1; DROP TABLE x'] }, { pool })).rejects.toThrow('not a row id');
  });

  it('the dlqReplay activity decodes each row with its recorded profile, the worker profile otherwise', async () => {
    // The worker runs canonical-v1 on its own topics. A backfill of a legacy dump (oltp-legacy-v0) dead-lettered
    // a line; a consumer row under the worker's own profile; a row of a profile this build no longer knows.
    const workerProfile = withTopics(getProfile('canonical-v1'), topics);
    const legacyLine = {
      type: 'LEDGER_ENTRY_UPSERTED',
      data: {
        txId: `${prefix}lp-1`,
        walletId: `${prefix}lw-1`,
        entryType: 'PAYMENT',
        amount: '7.25',
        relatedId: `${prefix}lord-1`,
        createdAt: '2026-02-24T11:00:00Z',
        version: 1,
      },
    };
    const canonicalEntry = (txId: string) => ({
      tx_id: txId,
      wallet_id: `${prefix}lw-2`,
      entry_type: 'RECEIVE',
      amount: '7.25',
      related_id: `${prefix}lord-1`,
      event_time: '2026-02-24T11:00:00Z',
      source_version: 1,
    });
    await insertDlqEvents(pool as unknown as pg.ClientBase, [
      {
        ...consumerRow(topics.ledger, 0, JSON.stringify(legacyLine)),
        source: 'backfill',
        profile_id: 'oltp-legacy-v0',
        topic: null,
        partition: null,
        offset: null,
        message_key: null,
        headers: null,
        dump_file: `${tag}-legacy-dump.ndjson`,
        dump_line: 3,
      },
      consumerRow(topics.ledger, 10, JSON.stringify(canonicalEntry(`${prefix}lp-2`))),
      {
        ...consumerRow(topics.ledger, 11, JSON.stringify(canonicalEntry(`${prefix}lp-3`))),
        profile_id: 'retired-v9',
      },
    ]);
    const ids: string[] = (
      await pool.query(
        `SELECT id::text FROM bo.consumer_dlq_events WHERE dump_file = $1 OR (topic = $2 AND "offset" >= 10) ORDER BY id`,
        [`${tag}-legacy-dump.ndjson`, topics.ledger],
      )
    ).rows.map((r) => r.id);
    expect(ids).toHaveLength(3);

    const activities = createActivities({
      pool,
      databaseUrl: '',
      brokers: [],
      profile: workerProfile,
      apiBaseUrl: 'http://127.0.0.1:1',
      appEnv: 'test',
      evidenceDir: '',
      demoDumpPath: '',
    });
    const r = await new MockActivityEnvironment().run(activities.replayDlq, { ids, runId: `it-${tag}` });
    expect(r).toMatchObject({ matched: 3, applied: 3, stillFailing: 0, skipped: 0 });
    expect((await dlqState(ids)).map((row) => row.replay_result)).toEqual(['APPLIED', 'APPLIED', 'APPLIED']);
    const entries = (
      await pool.query(
        'SELECT tx_id, amount, source FROM bo.ledger_entries WHERE tx_id LIKE $1 ORDER BY tx_id',
        [`${prefix}lp-%`],
      )
    ).rows;
    expect(entries).toEqual(
      [1, 2, 3].map((n) => ({ tx_id: `${prefix}lp-${n}`, amount: '7.25', source: 'replay' })),
    );
  });

  it('bad input fails the activity once, non-retryably (InvalidInputError), naming the field', async () => {
    const activities = createActivities({
      pool,
      databaseUrl: '',
      brokers: [],
      profile: getProfile('canonical-v1'),
      apiBaseUrl: 'http://127.0.0.1:1',
      appEnv: 'test',
      evidenceDir: '',
      demoDumpPath: '',
    });
    const bad: [Record<string, unknown>, string][] = [
      [{ reason: 'NOT_A_REASON' }, 'reason'],
      [{ ids: ['1', 'x'] }, 'ids'],
      [{ ids: '1,2' }, 'ids'],
      [{ batchSize: 0 }, 'batchSize'],
      [{ batchSize: '500' }, 'batchSize'],
      [{ from: 'yesterday' }, 'from'],
      [{ to: '2026-13-45' }, 'to'],
      [{ to: '2026-02-01' }, 'to'], // no time, no offset: not RFC 3339 (the contract's rule)
      [{ from: '2026-02-02T00:00:00Z', to: '2026-02-01T00:00:00Z' }, 'from'],
      [{ topic: 7 }, 'topic'],
      [{ dryRun: 'yes' }, 'dryRun'],
    ];
    for (const [input, field] of bad) {
      const err = await new MockActivityEnvironment()
        .run(activities.replayDlq, { ...input, runId: `it-${tag}-bad` } as never)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err, JSON.stringify(input)).toBeInstanceOf(ApplicationFailure);
      expect((err as ApplicationFailure).type).toBe('InvalidInputError');
      expect((err as ApplicationFailure).nonRetryable).toBe(true);
      expect((err as ApplicationFailure).message).toContain(field);
    }
    // The core (used directly by tests and tools) throws the typed error the activity maps.
    await expect(replayDlq({ reason: 'NOPE' as never }, { pool })).rejects.toBeInstanceOf(
      DlqReplayInputError,
    );
  });
});

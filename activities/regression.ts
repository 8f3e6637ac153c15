// L3 regression: publish a uniquely tagged synthetic payment (in order), a second one out of order, and one
// malformed message to the live topics, then check what the cluster's own consumer made of them through the API.
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import type pg from 'pg';
import type { EventProfile } from '../contract';
import type { L3Check } from '../workflows/types';

export interface PublishedRegression {
  tag: string;
  publishedAt: string;
  inOrder: { orderId: string; paymentTxId: string; receiveTxId: string };
  outOfOrder: { orderId: string; paymentTxId: string; receiveTxId: string; finalStatus: string };
  malformedKey: string;
  absentTxId: string;
}

function entry(
  txId: string,
  wallet: string,
  type: 'PAYMENT' | 'RECEIVE',
  orderId: string,
  at: Date,
  version: number,
) {
  return {
    tx_id: txId,
    wallet_id: wallet,
    entry_type: type,
    amount: '1000.00',
    currency: 'KRW',
    related_id: orderId,
    event_time: at.toISOString(),
    updated_at: at.toISOString(),
    source_version: version,
  };
}

function order(orderId: string, status: string, at: Date, version: number, tag: string) {
  return {
    order_id: orderId,
    status,
    amount: '1000.00',
    currency: 'KRW',
    payer_wallet_id: `${tag}-payer`,
    payee_wallet_id: `${tag}-payee`,
    event_time: at.toISOString(),
    updated_at: new Date(at.getTime() + version).toISOString(),
    source_version: version,
  };
}

export async function publishRegressionEvents(opts: {
  tag: string;
  brokers: string[];
  profile: EventProfile;
}): Promise<PublishedRegression> {
  const { tag, profile } = opts;
  const now = new Date();
  const a = { orderId: `${tag}-ord-a`, paymentTxId: `${tag}-pay-a`, receiveTxId: `${tag}-rcv-a` };
  const b = {
    orderId: `${tag}-ord-b`,
    paymentTxId: `${tag}-pay-b`,
    receiveTxId: `${tag}-rcv-b`,
    finalStatus: 'SETTLED',
  };
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  const kafka = new Kafka({ clientId: 'tx-lookup-l3', brokers: opts.brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    // In order: order CREATED, PAYMENT, RECEIVE, order SETTLED.
    await producer.send({
      topic: profile.topics.order,
      messages: [{ key: a.orderId, value: json(order(a.orderId, 'CREATED', now, 1, tag)) }],
    });
    await producer.send({
      topic: profile.topics.ledger,
      messages: [
        {
          key: a.paymentTxId,
          value: json(entry(a.paymentTxId, `${tag}-payer`, 'PAYMENT', a.orderId, now, 1)),
        },
        {
          key: a.receiveTxId,
          value: json(entry(a.receiveTxId, `${tag}-payee`, 'RECEIVE', a.orderId, now, 1)),
        },
      ],
    });
    await producer.send({
      topic: profile.topics.order,
      messages: [{ key: a.orderId, value: json(order(a.orderId, 'SETTLED', now, 2, tag)) }],
    });
    // Out of order: RECEIVE before PAYMENT, and the newer order version (SETTLED) before the older (PENDING).
    await producer.send({
      topic: profile.topics.ledger,
      messages: [
        {
          key: b.receiveTxId,
          value: json(entry(b.receiveTxId, `${tag}-payee`, 'RECEIVE', b.orderId, now, 1)),
        },
      ],
    });
    await producer.send({
      topic: profile.topics.order,
      messages: [{ key: b.orderId, value: json(order(b.orderId, 'SETTLED', now, 3, tag)) }],
    });
    await producer.send({
      topic: profile.topics.order,
      messages: [{ key: b.orderId, value: json(order(b.orderId, 'PENDING', now, 2, tag)) }],
    });
    await producer.send({
      topic: profile.topics.ledger,
      messages: [
        {
          key: b.paymentTxId,
          value: json(entry(b.paymentTxId, `${tag}-payer`, 'PAYMENT', b.orderId, now, 1)),
        },
      ],
    });
    // Malformed: valid JSON, but the amount is not a decimal -> SCHEMA_VIOLATION in the DLQ.
    const malformedKey = `${tag}-bad`;
    await producer.send({
      topic: profile.topics.ledger,
      messages: [
        {
          key: malformedKey,
          value: json({
            ...entry(malformedKey, `${tag}-payer`, 'PAYMENT', a.orderId, now, 1),
            amount: 'NaN',
          }),
        },
      ],
    });
    return {
      tag,
      publishedAt: now.toISOString(),
      inOrder: a,
      outOfOrder: b,
      malformedKey,
      absentTxId: `${tag}-absent`,
    };
  } finally {
    await producer.disconnect();
  }
}

type GetTx = (txId: string) => Promise<{ status: number; body: unknown }>;
interface TxBody {
  pairing_status?: string;
  paired_tx_id?: string | null;
  status?: string | null;
  data_lag_sec?: number;
}

export async function verifyRegression(opts: {
  published: PublishedRegression;
  syncTimeoutSec: number;
  freshnessSloSec: number;
  pool: pg.Pool;
  getTx: GetTx;
  signal?: AbortSignal;
}): Promise<L3Check[]> {
  const { published: p, getTx } = opts;
  const pairs = [
    { ...p.inOrder, expectStatus: 'SETTLED' },
    { ...p.outOfOrder, expectStatus: p.outOfOrder.finalStatus },
  ];
  const ids = pairs.flatMap((x) => [x.paymentTxId, x.receiveTxId]);
  const deadline = Date.now() + opts.syncTimeoutSec * 1000;
  let seen = new Map<string, { status: number; body: TxBody }>();
  // Poll until every entry is visible, paired and carries the final order status, or the deadline passes.
  for (;;) {
    seen = new Map();
    for (const id of ids) seen.set(id, (await getTx(id)) as { status: number; body: TxBody });
    const settled = pairs.every(
      (x) =>
        [x.paymentTxId, x.receiveTxId].every(
          (id) => seen.get(id)?.status === 200 && seen.get(id)?.body.pairing_status === 'COMPLETE',
        ) && seen.get(x.paymentTxId)?.body.status === x.expectStatus,
    );
    if (settled || Date.now() > deadline || opts.signal?.aborted) break;
    await sleep(500);
  }

  const checks: L3Check[] = [];
  const missing = ids.filter((id) => seen.get(id)?.status !== 200);
  checks.push({
    name: 'api_200',
    ok: missing.length === 0,
    detail: missing.length ? `not found: ${missing.join(', ')}` : `${ids.length} entries visible`,
  });
  const absent = await getTx(p.absentTxId);
  checks.push({ name: 'api_404', ok: absent.status === 404, detail: `absent id answered ${absent.status}` });
  const badPairs = pairs.filter(
    (x) =>
      seen.get(x.paymentTxId)?.body.pairing_status !== 'COMPLETE' ||
      seen.get(x.paymentTxId)?.body.paired_tx_id !== x.receiveTxId ||
      seen.get(x.receiveTxId)?.body.paired_tx_id !== x.paymentTxId,
  );
  checks.push({
    name: 'pairing_complete',
    ok: badPairs.length === 0,
    detail: badPairs.length
      ? `incomplete: ${badPairs.map((x) => x.orderId).join(', ')}`
      : 'both pairs COMPLETE',
  });
  const oooStatus = seen.get(p.outOfOrder.paymentTxId)?.body.status;
  checks.push({
    name: 'out_of_order_lww',
    ok: oooStatus === p.outOfOrder.finalStatus,
    detail: `order ${p.outOfOrder.orderId} status ${oooStatus ?? 'none'} (expected ${p.outOfOrder.finalStatus} despite the older version arriving last)`,
  });
  const dlq = await opts.pool.query<{ reason: string }>(
    `select reason from bo.consumer_dlq_events where message_key = $1 and source = 'consumer'`,
    [Buffer.from(p.malformedKey)],
  );
  checks.push({
    name: 'dlq_row',
    ok: dlq.rows.length === 1 && dlq.rows[0]?.reason === 'SCHEMA_VIOLATION',
    detail: dlq.rows.length
      ? `DLQ reason ${dlq.rows.map((r) => r.reason).join(',')}`
      : 'malformed message not in the DLQ',
  });
  const lags = ids
    .map((id) => seen.get(id)?.body.data_lag_sec)
    .filter((x): x is number => typeof x === 'number');
  const worst = lags.length ? Math.max(...lags) : Number.POSITIVE_INFINITY;
  checks.push({
    name: 'freshness',
    ok: lags.length === ids.length && worst <= opts.freshnessSloSec,
    detail: `worst data_lag_sec ${Number.isFinite(worst) ? worst.toFixed(3) : 'n/a'} (SLO ${opts.freshnessSloSec}s)`,
  });
  return checks;
}

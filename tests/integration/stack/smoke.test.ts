// One real round trip per service of the local stack (ops/stack): PostgreSQL, Kafka, Temporal.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { SmokeActivities } from '../../support/smoke-workflows';

const runId = randomUUID().slice(0, 8);
// The stack's own database (global-setup runs the other tests in a database of their own).
const databaseUrl =
  process.env.STACK_DATABASE_URL ??
  process.env.DATABASE_URL ??
  'postgres://txlookup:txlookup@127.0.0.1:5432/txlookup';
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const temporalAddress = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
const temporalNamespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
const workflowsPath = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../support/smoke-workflows.ts',
);

// Worker lifecycle chatter at INFO drowns the test output; warnings and errors still show.
Runtime.install({ logger: new DefaultLogger('WARN') });

describe('local stack smoke', () => {
  it('PostgreSQL: connects as txlookup, writes and reads a temp table', async () => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const who = await client.query<{ user: string; db: string; superuser: string }>(
        `select current_user as user, current_database() as db, current_setting('is_superuser') as superuser`,
      );
      expect(who.rows[0]).toEqual({ user: 'txlookup', db: 'txlookup', superuser: 'off' });
      await client.query('create temp table smoke_rows (id int primary key, note text not null)');
      await client.query(`insert into smoke_rows values (1, $1), (2, $2)`, [`a-${runId}`, `b-${runId}`]);
      const rows = await client.query<{ id: number; note: string }>(
        'select id, note from smoke_rows order by id',
      );
      expect(rows.rows).toEqual([
        { id: 1, note: `a-${runId}` },
        { id: 2, note: `b-${runId}` },
      ]);
    } finally {
      await client.end();
    }
  });

  it('Kafka: creates a topic, produces 3 messages and consumes them back', async () => {
    const kafka = new Kafka({ clientId: `smoke-${runId}`, brokers, logLevel: logLevel.NOTHING });
    const topic = `smoke.stack.${runId}`;
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer();
    const consumer = kafka.consumer({ groupId: `smoke-${runId}`, maxWaitTimeInMs: 50 });
    try {
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })).toBe(
        true,
      );
      await producer.connect();
      const sent = [1, 2, 3].map((n) => ({ key: `k${n}`, value: JSON.stringify({ n, runId }) }));
      await producer.send({ topic, messages: sent });

      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const received: { key: string; value: string; offset: string }[] = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`only ${received.length}/3 messages within 20 s`)),
          20_000,
        );
        consumer
          .run({
            eachMessage: async ({ message }) => {
              received.push({
                key: message.key?.toString() ?? '',
                value: message.value?.toString() ?? '',
                offset: message.offset,
              });
              if (received.length === 3) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
      expect(received).toEqual(sent.map((m, i) => ({ key: m.key, value: m.value, offset: String(i) })));
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });

  it('Temporal: a real worker runs a workflow whose activity returns a value', async () => {
    const taskQueue = `smoke-${runId}`;
    const activities: SmokeActivities = {
      smokeGreet: async (name) => `hello ${name}`,
    };
    const workerConnection = await NativeConnection.connect({ address: temporalAddress });
    const connection = await Connection.connect({ address: temporalAddress });
    try {
      const worker = await Worker.create({
        connection: workerConnection,
        namespace: temporalNamespace,
        taskQueue,
        workflowsPath,
        activities,
      });
      const client = new Client({ connection, namespace: temporalNamespace });
      const result = await worker.runUntil(
        client.workflow.execute('smokeWorkflow', {
          taskQueue,
          workflowId: `smoke-${runId}`,
          args: [runId],
          workflowExecutionTimeout: '30 seconds',
        }),
      );
      expect(result).toBe(`hello ${runId} (via workflow)`);
    } finally {
      await connection.close();
      await workerConnection.close();
    }
  });
});

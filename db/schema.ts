// drizzle-orm table definitions of schema `bo`: the single source of TS row types for the tables.
// The DDL itself is migrations/*.sql (forward-only SQL is authoritative); these definitions must
// match it column for column — tests/integration/db/schema.test.ts compares them with information_schema.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  customType,
  doublePrecision,
  index,
  integer,
  jsonb,
  numeric,
  pgSchema,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

export const bo = pgSchema('bo');

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });
const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
// bigint columns: numbers (ids, versions, counters stay far below 2^53).
const int8 = (name: string) => bigint(name, { mode: 'number' });

export const ledgerEntries = bo.table(
  'ledger_entries',
  {
    tx_id: text('tx_id').primaryKey(),
    wallet_id: text('wallet_id').notNull(),
    entry_type: text('entry_type').notNull(),
    /** exact decimal string */
    amount: numeric('amount').notNull(),
    currency: text('currency'),
    related_id: text('related_id'),
    related_type: text('related_type').notNull(),
    event_time: tstz('event_time').notNull(),
    updated_at: tstz('updated_at'),
    source_version: int8('source_version'),
    ingested_at: tstz('ingested_at').notNull(),
    source: text('source', { enum: ['consumer', 'backfill', 'replay'] }).notNull(),
  },
  (t) => [
    index('ledger_entries_wallet_time_idx').on(t.wallet_id, t.event_time.desc(), t.tx_id.desc()),
    index('ledger_entries_related_id_idx').on(t.related_id),
  ],
);

export const paymentOrders = bo.table('payment_orders', {
  order_id: text('order_id').primaryKey(),
  status: text('status').notNull(),
  status_group: text('status_group', {
    enum: ['IN_PROGRESS', 'SUCCESS', 'FAILED', 'CANCELLED', 'REFUNDED', 'UNKNOWN'],
  }).notNull(),
  amount: numeric('amount').notNull(),
  currency: text('currency'),
  payer_wallet_id: text('payer_wallet_id'),
  payee_wallet_id: text('payee_wallet_id'),
  event_time: tstz('event_time').notNull(),
  updated_at: tstz('updated_at'),
  source_version: int8('source_version'),
  ingested_at: tstz('ingested_at').notNull(),
  source: text('source', { enum: ['consumer', 'backfill', 'replay'] }).notNull(),
});

export const paymentLedgerPairs = bo.table(
  'payment_ledger_pairs',
  {
    related_id: text('related_id').primaryKey(),
    payment_tx_id: text('payment_tx_id'),
    receive_tx_id: text('receive_tx_id'),
    pairing_status: text('pairing_status', { enum: ['COMPLETE', 'INCOMPLETE'] }).notNull(),
    first_seen_at: tstz('first_seen_at').notNull(),
    completed_at: tstz('completed_at'),
    conflict_count: integer('conflict_count').notNull().default(0),
    conflict_tx_ids: text('conflict_tx_ids')
      .array()
      .notNull()
      .default(sql`'{}'`),
  },
  (t) => [
    index('payment_ledger_pairs_incomplete_idx')
      .on(t.first_seen_at)
      .where(sql`pairing_status = 'INCOMPLETE'`),
  ],
);

export const adminAuditLogs = bo.table(
  'admin_audit_logs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    occurred_at: tstz('occurred_at').notNull(),
    sub: text('sub').notNull(),
    actor_roles: text('actor_roles')
      .array()
      .notNull()
      .default(sql`'{}'`),
    route: text('route').notNull(),
    params: jsonb('params').$type<Record<string, unknown>>().notNull(),
    result: text('result', { enum: ['FOUND', 'NOT_FOUND', 'LISTED'] }).notNull(),
    status_code: integer('status_code').notNull(),
    duration_ms: doublePrecision('duration_ms').notNull(),
    result_count: integer('result_count').notNull(),
    client_ip: text('client_ip'),
    user_agent: text('user_agent'),
    request_id: text('request_id').notNull(),
  },
  (t) => [
    index('admin_audit_logs_occurred_at_idx').on(t.occurred_at),
    index('admin_audit_logs_actor_idx').on(t.sub, t.occurred_at),
    index('admin_audit_logs_request_id_idx').on(t.request_id),
  ],
);

export const consumerDlqEvents = bo.table(
  'consumer_dlq_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    created_at: tstz('created_at').notNull().defaultNow(),
    source: text('source', { enum: ['consumer', 'backfill', 'replay'] }).notNull(),
    profile_id: text('profile_id').notNull(),
    topic: text('topic'),
    partition: integer('partition'),
    offset: int8('offset'),
    message_key: bytea('message_key'),
    headers: jsonb('headers').$type<Record<string, string>>(),
    raw_value: bytea('raw_value'),
    reason: text('reason', {
      enum: ['INVALID_JSON', 'SCHEMA_VIOLATION', 'UNMAPPED_TOPIC', 'UNKNOWN_EVENT_TYPE', 'DB_REJECTED'],
    }).notNull(),
    error_detail: text('error_detail').notNull(),
    dump_file: text('dump_file'),
    dump_line: int8('dump_line'),
    replayed_at: tstz('replayed_at'),
    replay_result: text('replay_result', { enum: ['APPLIED', 'STILL_FAILING', 'SKIPPED'] }),
    replay_count: integer('replay_count').notNull().default(0),
  },
  (t) => [
    uniqueIndex('consumer_dlq_events_consumer_uq')
      .on(t.topic, t.partition, t.offset)
      .where(sql`source = 'consumer'`),
    uniqueIndex('consumer_dlq_events_backfill_uq')
      .on(t.dump_file, t.dump_line)
      .where(sql`source = 'backfill'`),
    index('consumer_dlq_events_reason_idx').on(t.reason, t.created_at),
    index('consumer_dlq_events_topic_idx').on(t.topic, t.created_at),
    index('consumer_dlq_events_unreplayed_idx')
      .on(t.id)
      .where(sql`replayed_at IS NULL`),
  ],
);

export const opsRuns = bo.table(
  'ops_runs',
  {
    run_id: text('run_id').primaryKey(),
    kind: text('kind', { enum: ['cutover_rehearsal', 'dlq_replay', 'l3_regression'] }).notNull(),
    workflow_id: text('workflow_id'),
    started_at: tstz('started_at').notNull().defaultNow(),
    finished_at: tstz('finished_at'),
    status: text('status', {
      enum: [
        'RUNNING',
        'GO',
        'NO_GO',
        'PASSED',
        'FAILED',
        'COMPLETED',
        'COMPLETED_WITH_FAILURES',
        'CANCELLED',
      ],
    }).notNull(),
    reason: text('reason'),
    input: jsonb('input').$type<Record<string, unknown>>().notNull().default({}),
    result: jsonb('result').$type<Record<string, unknown>>(),
    evidence_path: text('evidence_path'),
  },
  (t) => [index('ops_runs_kind_started_idx').on(t.kind, t.started_at.desc())],
);

export const backfillCheckpoints = bo.table('backfill_checkpoints', {
  checkpoint_id: text('checkpoint_id').primaryKey(),
  dump_path: text('dump_path').notNull(),
  until_ts: tstz('until_ts').notNull(),
  files_done: text('files_done')
    .array()
    .notNull()
    .default(sql`'{}'`),
  current_file: text('current_file'),
  current_line: int8('current_line').notNull().default(0),
  rows_read: int8('rows_read').notNull().default(0),
  rows_applied: int8('rows_applied').notNull().default(0),
  rows_dlq: int8('rows_dlq').notNull().default(0),
  completed_at: tstz('completed_at'),
  updated_at: tstz('updated_at').notNull().defaultNow(),
});

export const schemaMigrations = bo.table('schema_migrations', {
  version: text('version').primaryKey(),
  name: text('name').notNull(),
  checksum: text('checksum').notNull(),
  applied_at: tstz('applied_at').notNull().defaultNow(),
});

export type LedgerEntryRow = typeof ledgerEntries.$inferSelect;
export type PaymentOrderRow = typeof paymentOrders.$inferSelect;
export type PaymentLedgerPairRow = typeof paymentLedgerPairs.$inferSelect;
export type AdminAuditLogRow = typeof adminAuditLogs.$inferSelect;
export type AdminAuditLogInsert = typeof adminAuditLogs.$inferInsert;
export type ConsumerDlqEventRow = typeof consumerDlqEvents.$inferSelect;
export type OpsRunRow = typeof opsRuns.$inferSelect;
export type OpsRunInsert = typeof opsRuns.$inferInsert;
export type BackfillCheckpointRow = typeof backfillCheckpoints.$inferSelect;

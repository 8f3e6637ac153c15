-- 0001: the Backoffice DB schema `bo` (SPEC §3) plus the SQL helpers of the one LWW + pairing merge (db/merge-sql.ts).
-- Forward-only: never edit this file once applied anywhere; add 0002_... instead.
CREATE SCHEMA IF NOT EXISTS bo;

-- ---------------------------------------------------------------------------------------------------
-- Ledger entries (SPEC §1.2). `source` = which path last wrote the row.
CREATE TABLE bo.ledger_entries (
  tx_id          text        PRIMARY KEY,
  wallet_id      text        NOT NULL,
  entry_type     text        NOT NULL,
  amount         numeric     NOT NULL,
  currency       text        NULL,
  related_id     text        NULL,
  related_type   text        NOT NULL,
  event_time     timestamptz NOT NULL,
  updated_at     timestamptz NULL,
  source_version bigint      NULL,
  ingested_at    timestamptz NOT NULL,
  source         text        NOT NULL,
  CONSTRAINT ledger_entries_tx_id_len CHECK (char_length(tx_id) BETWEEN 1 AND 128),
  CONSTRAINT ledger_entries_wallet_id_len CHECK (char_length(wallet_id) BETWEEN 1 AND 128),
  -- related_id is indexed and is the pairs PK: keep it far below the btree row-size limit.
  CONSTRAINT ledger_entries_related_id_len CHECK (char_length(related_id) BETWEEN 1 AND 512),
  CONSTRAINT ledger_entries_amount_finite CHECK (amount NOT IN ('NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric)),
  CONSTRAINT ledger_entries_source_version_nonneg CHECK (source_version >= 0),
  CONSTRAINT ledger_entries_source CHECK (source IN ('consumer', 'backfill', 'replay'))
);
-- Wallet history, keyset-paginated newest first: (wallet_id, event_time, tx_id) < ($2, $3).
CREATE INDEX ledger_entries_wallet_time_idx ON bo.ledger_entries (wallet_id, event_time DESC, tx_id DESC);
CREATE INDEX ledger_entries_related_id_idx ON bo.ledger_entries (related_id);

-- ---------------------------------------------------------------------------------------------------
-- Payment orders (SPEC §1.3); status_group is derived by the contract's frozen mapping.
CREATE TABLE bo.payment_orders (
  order_id        text        PRIMARY KEY,
  status          text        NOT NULL,
  status_group    text        NOT NULL,
  amount          numeric     NOT NULL,
  currency        text        NULL,
  payer_wallet_id text        NULL,
  payee_wallet_id text        NULL,
  event_time      timestamptz NOT NULL,
  updated_at      timestamptz NULL,
  source_version  bigint      NULL,
  ingested_at     timestamptz NOT NULL,
  source          text        NOT NULL,
  CONSTRAINT payment_orders_order_id_len CHECK (char_length(order_id) BETWEEN 1 AND 128),
  CONSTRAINT payment_orders_payer_len CHECK (char_length(payer_wallet_id) BETWEEN 1 AND 128),
  CONSTRAINT payment_orders_payee_len CHECK (char_length(payee_wallet_id) BETWEEN 1 AND 128),
  CONSTRAINT payment_orders_status_group CHECK (status_group IN ('IN_PROGRESS', 'SUCCESS', 'FAILED', 'CANCELLED', 'REFUNDED', 'UNKNOWN')),
  CONSTRAINT payment_orders_amount_finite CHECK (amount NOT IN ('NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric)),
  CONSTRAINT payment_orders_source_version_nonneg CHECK (source_version >= 0),
  CONSTRAINT payment_orders_source CHECK (source IN ('consumer', 'backfill', 'replay'))
);

-- ---------------------------------------------------------------------------------------------------
-- One row per related_id (SPEC §2 pairing). UNKNOWN pairing is derived at read time (no row).
CREATE TABLE bo.payment_ledger_pairs (
  related_id      text        PRIMARY KEY,
  payment_tx_id   text        NULL,
  receive_tx_id   text        NULL,
  pairing_status  text        NOT NULL CHECK (pairing_status IN ('COMPLETE', 'INCOMPLETE')),
  first_seen_at   timestamptz NOT NULL,
  completed_at    timestamptz NULL,
  conflict_count  int         NOT NULL DEFAULT 0,
  conflict_tx_ids text[]      NOT NULL DEFAULT '{}',
  CONSTRAINT payment_ledger_pairs_complete_has_both CHECK (
    pairing_status <> 'COMPLETE' OR (payment_tx_id IS NOT NULL AND receive_tx_id IS NOT NULL AND completed_at IS NOT NULL))
);
-- Feeds the pairing_incomplete_pairs gauge and "show me open pairs" without a full scan.
CREATE INDEX payment_ledger_pairs_incomplete_idx ON bo.payment_ledger_pairs (first_seen_at) WHERE pairing_status = 'INCOMPLETE';

-- ---------------------------------------------------------------------------------------------------
-- One row per audited Admin API lookup (SPEC §4.3).
CREATE TABLE bo.admin_audit_logs (
  id          bigserial        PRIMARY KEY,
  occurred_at timestamptz      NOT NULL,
  actor_sub   text             NOT NULL,
  actor_roles text[]           NOT NULL DEFAULT '{}',
  route       text             NOT NULL,
  params      jsonb            NOT NULL,
  result      text             NOT NULL CHECK (result IN ('FOUND', 'NOT_FOUND', 'LISTED')),
  status_code int              NOT NULL,
  duration_ms double precision NOT NULL,
  result_count int             NOT NULL,
  client_ip   text             NULL,
  user_agent  text             NULL,
  request_id  text             NOT NULL
);
CREATE INDEX admin_audit_logs_occurred_at_idx ON bo.admin_audit_logs (occurred_at);
CREATE INDEX admin_audit_logs_actor_idx ON bo.admin_audit_logs (actor_sub, occurred_at);
CREATE INDEX admin_audit_logs_request_id_idx ON bo.admin_audit_logs (request_id);

-- ---------------------------------------------------------------------------------------------------
-- Dead letters (SPEC §1.4) with replay bookkeeping.
CREATE TABLE bo.consumer_dlq_events (
  id            bigserial   PRIMARY KEY,
  created_at    timestamptz NOT NULL DEFAULT now(),
  source        text        NOT NULL CHECK (source IN ('consumer', 'backfill', 'replay')),
  profile_id    text        NOT NULL,
  topic         text        NULL,
  partition     int         NULL,
  "offset"      bigint      NULL,
  message_key   bytea       NULL,
  headers       jsonb       NULL,
  raw_value     bytea       NULL,
  reason        text        NOT NULL CHECK (reason IN ('INVALID_JSON', 'SCHEMA_VIOLATION', 'UNMAPPED_TOPIC', 'UNKNOWN_EVENT_TYPE', 'DB_REJECTED')),
  error_detail  text        NOT NULL,
  dump_file     text        NULL,
  dump_line     bigint      NULL,
  replayed_at   timestamptz NULL,
  replay_result text        NULL CHECK (replay_result IN ('APPLIED', 'STILL_FAILING', 'SKIPPED')),
  replay_count  int         NOT NULL DEFAULT 0
);
-- Re-delivery (consumer) or a re-run (backfill) never duplicates a dead letter.
CREATE UNIQUE INDEX consumer_dlq_events_consumer_uq ON bo.consumer_dlq_events (topic, partition, "offset") WHERE source = 'consumer';
CREATE UNIQUE INDEX consumer_dlq_events_backfill_uq ON bo.consumer_dlq_events (dump_file, dump_line) WHERE source = 'backfill';
CREATE INDEX consumer_dlq_events_reason_idx ON bo.consumer_dlq_events (reason, created_at);
CREATE INDEX consumer_dlq_events_topic_idx ON bo.consumer_dlq_events (topic, created_at);
-- DLQ replay scans what has not been replayed yet.
CREATE INDEX consumer_dlq_events_unreplayed_idx ON bo.consumer_dlq_events (id) WHERE replayed_at IS NULL;

-- ---------------------------------------------------------------------------------------------------
-- Operational runs: cutover rehearsal, DLQ replay, L3 regression (SPEC §6).
CREATE TABLE bo.ops_runs (
  run_id        text        PRIMARY KEY,
  kind          text        NOT NULL CHECK (kind IN ('cutover_rehearsal', 'dlq_replay', 'l3_regression')),
  workflow_id   text        NULL,
  started_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz NULL,
  status        text        NOT NULL CHECK (status IN ('RUNNING', 'GO', 'NO_GO', 'PASSED', 'FAILED', 'COMPLETED')),
  reason        text        NULL,
  input         jsonb       NOT NULL DEFAULT '{}',
  result        jsonb       NULL,
  evidence_path text        NULL
);
CREATE INDEX ops_runs_kind_started_idx ON bo.ops_runs (kind, started_at DESC);

-- ---------------------------------------------------------------------------------------------------
-- Resumable backfill progress (SPEC §5).
CREATE TABLE bo.backfill_checkpoints (
  checkpoint_id text        PRIMARY KEY,
  dump_path     text        NOT NULL,
  until_ts      timestamptz NOT NULL,
  files_done    text[]      NOT NULL DEFAULT '{}',
  current_file  text        NULL,
  current_line  bigint      NOT NULL DEFAULT 0,
  rows_read     bigint      NOT NULL DEFAULT 0,
  rows_applied  bigint      NOT NULL DEFAULT 0,
  rows_dlq      bigint      NOT NULL DEFAULT 0,
  completed_at  timestamptz NULL,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------------------------------
-- The last-writer-wins rule of SPEC §2, in one place. TRUE when the incoming version (in_*) beats the
-- current one (cur_*): updated_at decides when both have it; otherwise source_version when both have it;
-- otherwise the later arrival (the incoming row) wins. An equal version is not newer (no-op).
CREATE FUNCTION bo.lww_newer(in_updated_at timestamptz, in_source_version bigint,
                             cur_updated_at timestamptz, cur_source_version bigint)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN in_updated_at IS NOT NULL AND cur_updated_at IS NOT NULL THEN in_updated_at > cur_updated_at
    WHEN in_source_version IS NOT NULL AND cur_source_version IS NOT NULL THEN in_source_version > cur_source_version
    ELSE true
  END
$$;

-- In-batch reduction: fold the versions of one key in arrival order with bo.lww_newer, exactly as if they
-- had arrived one by one. Use as bo.lww_winner(updated_at, source_version, arrival_seq ORDER BY arrival_seq);
-- (result).arrival_seq is the winning version.
CREATE TYPE bo.lww_stamp AS (updated_at timestamptz, source_version bigint, arrival_seq bigint);

CREATE FUNCTION bo.lww_step(state bo.lww_stamp, in_updated_at timestamptz, in_source_version bigint, in_arrival_seq bigint)
RETURNS bo.lww_stamp LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN (state).arrival_seq IS NULL
      OR bo.lww_newer(in_updated_at, in_source_version, (state).updated_at, (state).source_version)
    THEN ROW(in_updated_at, in_source_version, in_arrival_seq)::bo.lww_stamp
    ELSE state
  END
$$;

CREATE AGGREGATE bo.lww_winner(timestamptz, bigint, bigint) (
  SFUNC = bo.lww_step,
  STYPE = bo.lww_stamp
);

-- Pair conflicts: `existing` plus each candidate tx_id (in order, once) that is neither slot holder nor
-- already recorded. Appending only unseen ids makes a replay a no-op.
CREATE FUNCTION bo.pair_conflicts(existing text[], candidates text[], payment_tx_id text, receive_tx_id text)
RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT existing || ARRAY(
    SELECT c FROM unnest(candidates) WITH ORDINALITY AS u(c, o)
    WHERE c IS NOT NULL
      AND c IS DISTINCT FROM payment_tx_id
      AND c IS DISTINCT FROM receive_tx_id
      AND c <> ALL (existing)
    GROUP BY c
    ORDER BY min(o))
$$;

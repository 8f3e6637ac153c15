// The one home of the LWW + pairing SQL. Every writer (consumer batch, backfill COPY, DLQ replay) runs the
// statement built here, over either a per-batch `unnest(...)` of parameter arrays or a COPY-filled staging
// table. The version comparison itself is bo.lww_newer / bo.lww_winner (migration 0001).
//
// Exactness. A merge ends in exactly the state of applying its rows ONE BY ONE in arrival order, so the result
// never depends on how rows are cut into batches or chunks. The SPEC §2 rule is not transitive when versioned and
// unversioned rows mix (stored (t46, v3), then [unversioned U, (t44, v2)]: one by one U wins by arrival, then
// (t44, v2) wins over U; folded first, (t44, v2) loses to the stored row), so a key's versions cannot always be
// reduced before they meet the stored row:
//   * a key seen once, or a "safe" key, is folded in the batch and the winner is upserted with the rule in
//     ON CONFLICT ... WHERE, as before. A key is safe when all its versions in the batch share one stamp class
//     (updated_at only, source_version only, or neither), or all carry both stamps and the fold's winner (decided
//     by updated_at) also holds the highest source_version: then "fold, then compare with the stored row" equals
//     one-by-one application whatever the stored row's class. Producers stamp every version of a key the same
//     way, so this is the common case and costs nothing extra.
//   * any other key is DECIDED against its stored row, locked first (SELECT ... FOR UPDATE in this statement):
//     one by one from stored row S, S stays until the first version k that beats it, and from then on the state
//     no longer depends on S, so the result is the fold of versions k..n (or S when no version beats it). Only
//     that net result is written (no intermediate states), and a redelivered history leaves the row untouched.
//     When such a batch exists, every existing key of the batch up to its last unsafe key is locked, in key
//     order, before anything is written (the upsert then takes the later keys' row locks, still in key order). A key that did not exist at lock time but is
//     inserted by a racing writer before our insert falls back to the ON CONFLICT rule (never a regression).
//
// One statement, data-modifying CTEs:
//   src        the incoming versions (arrival_seq = input index / dump line order; unique within one merge),
//              with their stamp class
//   plan       per key seen several times: the fold (bo.lww_winner in arrival order) and whether it is safe
//   locked     only if some key is not safe: the stored rows of the batch's keys, locked in key order
//   unsafe, decided   for the unsafe keys: which versions beat the locked row, and the fold from the first one
//   win        one version per key (so ON CONFLICT never touches a row twice)
//   upserted   INSERT ... ON CONFLICT (pk) DO UPDATE ... WHERE (incoming is newer (bo.lww_newer), or the key was
//              decided against its locked row) AND its content differs. The WHERE is evaluated against the latest
//              committed row under its row lock, so racing writers cannot regress a key. Rows are written in key
//              order (deadlock avoidance).
//   classified per-winner outcome: inserted / updated (RETURNING, xmax = 0 means inserted), unchanged (the
//              stored row equals it), stale (the stored row is newer)
//   kept       keys of several versions whose final row is the stored one (stale winner, or none beat it)
//   others     every other version: superseded inside the batch; 'unchanged' if identical to the key's final
//              row (the winner, or the stored row when the winner was stale or no version beat it), else 'stale'
//   pairs_up   (ledger only) the current-version pairable entries, aggregated per related_id, upserted into
//              bo.payment_ledger_pairs: slots are filled once, COMPLETE never regresses, a different tx_id
//              for a filled slot is appended to conflict_tx_ids once (bo.pair_conflicts); no-op updates are
//              skipped so a replay changes no pair row.
// Reads of the target tables inside the statement see the pre-statement snapshot (except `locked`, which reads
// and locks the latest committed rows): that is what `classified` and the pairing counts compare against. Those
// reads are primary-key lookups, never joins against whole tables, so the plan stays index-only however large
// the tables grow.
//
// batchSql puts a ledger merge (CTEs prefixed l_), an order merge (o_) and the dead-letter insert into ONE
// statement: atomic on its own, so a consumer batch costs one round trip.
import type { WriteSource } from './apply';

export type MergeKind = 'ledger' | 'order';

// Staged values are text in both paths (parameter arrays and COPY staging), cast to the table type inside the
// merge statement: a value PostgreSQL refuses (e.g. a timestamp out of range) then fails the merge, where
// SAVEPOINT bisection isolates the row, never the COPY of a whole chunk.
interface Column {
  name: string;
  /** The column type in the target table. */
  pgType: 'text' | 'numeric' | 'timestamptz' | 'bigint';
}

export interface KindSpec {
  kind: MergeKind;
  table: string;
  pk: string;
  stagingTable: string;
  /** Business columns, in staging / parameter order (after arrival_seq). */
  columns: readonly Column[];
}

export const LEDGER_SPEC: KindSpec = {
  kind: 'ledger',
  table: 'bo.ledger_entries',
  pk: 'tx_id',
  stagingTable: 'pg_temp.stage_ledger',
  columns: [
    { name: 'tx_id', pgType: 'text' },
    { name: 'wallet_id', pgType: 'text' },
    { name: 'entry_type', pgType: 'text' },
    { name: 'amount', pgType: 'numeric' },
    { name: 'currency', pgType: 'text' },
    { name: 'related_id', pgType: 'text' },
    { name: 'related_type', pgType: 'text' },
    { name: 'event_time', pgType: 'timestamptz' },
    { name: 'updated_at', pgType: 'timestamptz' },
    { name: 'source_version', pgType: 'bigint' },
  ],
};

export const ORDER_SPEC: KindSpec = {
  kind: 'order',
  table: 'bo.payment_orders',
  pk: 'order_id',
  stagingTable: 'pg_temp.stage_orders',
  columns: [
    { name: 'order_id', pgType: 'text' },
    { name: 'status', pgType: 'text' },
    { name: 'status_group', pgType: 'text' },
    { name: 'amount', pgType: 'numeric' },
    { name: 'currency', pgType: 'text' },
    { name: 'payer_wallet_id', pgType: 'text' },
    { name: 'payee_wallet_id', pgType: 'text' },
    { name: 'event_time', pgType: 'timestamptz' },
    { name: 'updated_at', pgType: 'timestamptz' },
    { name: 'source_version', pgType: 'bigint' },
  ],
};

export function specOf(kind: MergeKind): KindSpec {
  return kind === 'ledger' ? LEDGER_SPEC : ORDER_SPEC;
}

const WRITE_SOURCES: readonly WriteSource[] = ['consumer', 'backfill', 'replay'];
function sourceLiteral(source: WriteSource): string {
  if (!WRITE_SOURCES.includes(source)) throw new Error(`unknown write source ${JSON.stringify(source)}`);
  return `'${source}'`;
}

/** The per-batch source relation: one text[] parameter per column, arrival_seq first (from $firstParam on). */
export function unnestSource(spec: KindSpec, firstParam = 1): string {
  const arrays = [
    `$${firstParam}::bigint[]`,
    ...spec.columns.map((_, i) => `$${firstParam + 1 + i}::text[]`),
  ];
  const names = ['arrival_seq', ...spec.columns.map((c) => c.name)];
  return `unnest(${arrays.join(', ')}) AS s(${names.join(', ')})`;
}

/** Number of parameters unnestSource takes for a kind. */
export function unnestParamCount(spec: KindSpec): number {
  return 1 + spec.columns.length;
}

/** Dead letters from one parameter array per column; re-deliveries hit the partial unique indexes and are skipped. */
export const DLQ_PARAM_COUNT = 12;
export function dlqInsertSql(firstParam = 1): string {
  const types = [
    'text',
    'text',
    'text',
    'int',
    'bigint',
    'bytea',
    'jsonb',
    'bytea',
    'text',
    'text',
    'text',
    'bigint',
  ];
  return `INSERT INTO bo.consumer_dlq_events
      (source, profile_id, topic, partition, "offset", message_key, headers, raw_value, reason, error_detail, dump_file, dump_line)
    SELECT * FROM unnest(${types.map((t, i) => `$${firstParam + i}::${t}[]`).join(', ')})
    ON CONFLICT DO NOTHING`;
}

/**
 * A whole batch as ONE statement (atomic on its own, so it needs no BEGIN/COMMIT round trips): the ledger
 * merge (CTEs prefixed l_), the order merge (o_) and the dead letters, each present only if the batch has
 * them. Parameters: ledger arrays, then order arrays, then DLQ arrays. Returns one row:
 * `ledger` / `orders` (jsonb of the merge result rows, or null) and `dlq_inserted`.
 */
export function batchSql(
  source: WriteSource,
  has: { ledger: boolean; orders: boolean; dlq: boolean },
): string {
  const ctes: string[] = [];
  let next = 1;
  const results: string[] = [];
  for (const [spec, prefix, present, label] of [
    [LEDGER_SPEC, 'l_', has.ledger, 'ledger'],
    [ORDER_SPEC, 'o_', has.orders, 'orders'],
  ] as const) {
    if (!present) {
      results.push(`NULL::jsonb AS ${label}`);
      continue;
    }
    const parts = mergeParts(spec, source, unnestSource(spec, next), 'rows', prefix);
    next += unnestParamCount(spec);
    ctes.push(...parts.ctes);
    results.push(`(SELECT to_jsonb(r) FROM ${parts.result} r) AS ${label}`);
  }
  if (has.dlq) {
    ctes.push(`dlq_ins AS (${dlqInsertSql(next)} RETURNING 1)`);
    results.push(`(SELECT count(*) FROM dlq_ins)::int AS dlq_inserted`);
  } else {
    results.push(`0 AS dlq_inserted`);
  }
  return `${ctes.length ? `WITH ${ctes.join(',\n    ')}\n    ` : ''}SELECT ${results.join(', ')}`;
}

/** The staging source relation, optionally one arrival_seq range of it (bisection of a rejected merge). */
export function stagingSource(spec: KindSpec, range?: { from: number; to: number }): string {
  if (!range) return `${spec.stagingTable} s`;
  if (!Number.isSafeInteger(range.from) || !Number.isSafeInteger(range.to))
    throw new Error('bad arrival_seq range');
  return `(SELECT * FROM ${spec.stagingTable} WHERE arrival_seq BETWEEN ${range.from} AND ${range.to}) s`;
}

/** DDL of the staging table of a kind (TEMP: private to the session, gone with it). */
export function stagingDdl(spec: KindSpec): string {
  const cols = ['arrival_seq bigint NOT NULL', ...spec.columns.map((c) => `${c.name} text`)];
  return `CREATE TEMP TABLE IF NOT EXISTS ${spec.stagingTable.replace('pg_temp.', '')} (${cols.join(', ')})`;
}

export function stagingColumns(spec: KindSpec): string[] {
  return ['arrival_seq', ...spec.columns.map((c) => c.name)];
}

/**
 * The merge statement. `mode: 'rows'` returns one row with `outcomes text[]` in arrival_seq order;
 * `mode: 'counts'` returns the outcome counts only. Both return pairing counts and version_missing.
 */
export function mergeSql(spec: KindSpec, source: WriteSource, from: string, mode: 'rows' | 'counts'): string {
  const parts = mergeParts(spec, source, from, mode, '');
  return `WITH ${parts.ctes.join(',\n    ')}\n    SELECT * FROM ${parts.result}`;
}

/**
 * The CTEs of one merge, their names prefixed (so a ledger and an order merge can share one statement); the
 * CTE named `result` holds the single result row.
 */
export function mergeParts(
  spec: KindSpec,
  source: WriteSource,
  from: string,
  mode: 'rows' | 'counts',
  prefix: string,
): { ctes: string[]; result: string } {
  const names = [
    'src',
    'plan',
    'locked',
    'unsafe',
    'decided',
    'win',
    'upserted',
    'classified',
    'kept',
    'others',
    'outcomes',
    'pair_batch',
    'pairs_up',
    'pair_counts',
    'result',
  ] as const;
  const n = Object.fromEntries(names.map((x) => [x, `${prefix}${x}`])) as Record<
    (typeof names)[number],
    string
  >;
  const pk = spec.pk;
  const business = spec.columns.map((c) => c.name);
  const nonKey = business.filter((c) => c !== pk);
  const row = (alias: string) => `(${nonKey.map((c) => `${alias}.${c}`).join(', ')})`;
  const srcSelect = spec.columns
    .map((c) => (c.pgType !== 'text' ? `s.${c.name}::${c.pgType} AS ${c.name}` : `s.${c.name}`))
    .join(', ');
  // 0 neither, 1 source_version only, 2 updated_at only, 3 both
  const stampClass = `((s.updated_at IS NOT NULL)::int * 2 + (s.source_version IS NOT NULL)::int)`;
  const isLedger = spec.kind === 'ledger';
  const pairable = `w.related_id IS NOT NULL AND w.related_type = 'PAYMENT_ORDER' AND w.entry_type IN ('PAYMENT', 'RECEIVE')`;

  const ctes: string[] = [
    `${n.src} AS MATERIALIZED (
      SELECT s.arrival_seq, ${srcSelect}, ${stampClass} AS stamp_class,
        count(*) OVER (PARTITION BY s.${pk}) AS versions
      FROM ${from})`,
    // For a key whose versions share one stamp class the arrival-order fold has a closed form (built-in
    // aggregates, no per-row function call): neither stamp -> the last arrival; source_version only -> the first
    // arrival of the highest version; updated_at (with or without source_version) -> the first arrival of the
    // latest updated_at. Both stamps are safe only when every version at the latest updated_at also holds the
    // highest source_version (a stricter test than needed; a key failing it is decided exactly below).
    `${n.plan} AS MATERIALIZED (
      SELECT ${pk},
        CASE min_class WHEN 0 THEN max_seq WHEN 1 THEN first_max_v ELSE first_max_u END AS fold_seq,
        min_class = max_class AND (min_class <> 3 OR COALESCE(top_u_has_max_v, false)) AS safe
      FROM (SELECT ${pk}, min(stamp_class) AS min_class, max(stamp_class) AS max_class,
              max(arrival_seq) AS max_seq,
              min(arrival_seq) FILTER (WHERE source_version = max_v) AS first_max_v,
              min(arrival_seq) FILTER (WHERE updated_at = max_u) AS first_max_u,
              bool_and(source_version = max_v) FILTER (WHERE updated_at = max_u) AS top_u_has_max_v
            FROM (SELECT ${pk}, arrival_seq, stamp_class, updated_at, source_version,
                    max(updated_at) OVER (PARTITION BY ${pk}) AS max_u,
                    max(source_version) OVER (PARTITION BY ${pk}) AS max_v
                  FROM ${n.src} WHERE versions > 1) m
            GROUP BY ${pk}) k)`,
    // The array is only built (and rows only locked) when some key is unsafe. Locks are taken in key order up to
    // the last unsafe key; the upsert then locks the keys after it, still in key order, so every writer locks
    // in one global order.
    `${n.locked} AS MATERIALIZED (
      SELECT t.${pk}, ${nonKey.map((c) => `t.${c}`).join(', ')}
      FROM ${spec.table} t
      WHERE t.${pk} = ANY (CASE WHEN EXISTS (SELECT 1 FROM ${n.plan} WHERE NOT safe)
                               THEN ARRAY(SELECT DISTINCT ${pk} FROM ${n.src}) END)
        AND t.${pk} <= (SELECT max(${pk}) FROM ${n.plan} WHERE NOT safe)
      ORDER BY t.${pk}
      FOR UPDATE OF t)`,
    // Versions of the unsafe keys, each marked with whether it beats the locked stored row (no row: it does).
    `${n.unsafe} AS MATERIALIZED (
      SELECT v.${pk}, v.arrival_seq, v.updated_at, v.source_version, l.${pk} IS NOT NULL AS stored,
        (l.${pk} IS NULL OR bo.lww_newer(v.updated_at, v.source_version, l.updated_at, l.source_version)) AS beats_stored
      FROM ${n.src} v
      JOIN ${n.plan} p ON p.${pk} = v.${pk} AND NOT p.safe
      LEFT JOIN ${n.locked} l ON l.${pk} = v.${pk})`,
    // One by one, the stored row stays until the first version beating it; the result is the fold from there.
    // win_seq is NULL when no version beats the stored row (the row stays).
    `${n.decided} AS MATERIALIZED (
      SELECT ${pk}, stored,
        (bo.lww_winner(updated_at, source_version, arrival_seq ORDER BY arrival_seq)
           FILTER (WHERE arrival_seq >= first_newer)).arrival_seq AS win_seq
      FROM (SELECT *, min(arrival_seq) FILTER (WHERE beats_stored) OVER (PARTITION BY ${pk}) AS first_newer
            FROM ${n.unsafe}) u
      GROUP BY ${pk}, stored)`,
    `${n.win} AS MATERIALIZED (
      SELECT * FROM ${n.src} WHERE versions = 1
      UNION ALL
      SELECT x.* FROM ${n.src} x JOIN ${n.plan} p ON p.${pk} = x.${pk} AND p.safe AND p.fold_seq = x.arrival_seq
      UNION ALL
      SELECT x.* FROM ${n.src} x JOIN ${n.decided} d ON d.${pk} = x.${pk} AND d.win_seq = x.arrival_seq)`,
    `${n.upserted} AS (
      INSERT INTO ${spec.table} AS t (${business.join(', ')}, ingested_at, source)
      SELECT ${business.join(', ')}, now(), ${sourceLiteral(source)} FROM ${n.win} ORDER BY ${pk}
      ON CONFLICT (${pk}) DO UPDATE SET
        ${nonKey.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}, ingested_at = EXCLUDED.ingested_at, source = EXCLUDED.source
      WHERE (bo.lww_newer(EXCLUDED.updated_at, EXCLUDED.source_version, t.updated_at, t.source_version)
             OR EXCLUDED.${pk} IN (SELECT d.${pk} FROM ${n.decided} d WHERE d.stored))
        AND ${row('t')} IS DISTINCT FROM ${row('EXCLUDED')}
      RETURNING t.${pk}, (t.xmax = 0) AS inserted)`,
    // The stored row is looked up (by primary key, only for winners the upsert did not write) to tell an
    // identical redelivery from a stale version; the lookup sees the pre-statement snapshot.
    `${n.classified} AS MATERIALIZED (
      SELECT w.arrival_seq, w.${pk},
        CASE WHEN u.${pk} IS NOT NULL THEN CASE WHEN u.inserted THEN 'inserted' ELSE 'updated' END
             WHEN EXISTS (SELECT 1 FROM ${spec.table} c WHERE c.${pk} = w.${pk} AND ${row('c')} IS NOT DISTINCT FROM ${row('w')})
               THEN 'unchanged'
             ELSE 'stale' END AS outcome,
        w.versions > 1 AS several
        ${isLedger ? `, (${pairable}) AS pairable, w.related_id, w.entry_type` : ''}
      FROM ${n.win} w
      LEFT JOIN ${n.upserted} u ON u.${pk} = w.${pk})`,
    // Keys of several versions whose final row is the stored one (the winner was stale, or no version beat the
    // stored row), read by primary key (pre-statement snapshot).
    `${n.kept} AS MATERIALIZED (
      SELECT st.${pk}, ${nonKey.map((c) => `st.${c}`).join(', ')}
      FROM ${spec.table} st
      WHERE st.${pk} = ANY (ARRAY(
        SELECT ${pk} FROM ${n.classified} WHERE outcome = 'stale' AND several
        UNION ALL
        SELECT ${pk} FROM ${n.decided} WHERE win_seq IS NULL)))`,
    // Superseded versions inside the batch: a copy identical to the key's final row is 'unchanged', anything else
    // 'stale'.
    `${n.others} AS (
      SELECT s.arrival_seq,
        CASE WHEN CASE WHEN k.${pk} IS NOT NULL THEN ${row('s')} IS NOT DISTINCT FROM ${row('k')}
                       ELSE ${row('s')} IS NOT DISTINCT FROM ${row('w')} END
             THEN 'unchanged' ELSE 'stale' END AS outcome
      FROM ${n.src} s
      LEFT JOIN ${n.win} w ON w.${pk} = s.${pk}
      LEFT JOIN ${n.kept} k ON k.${pk} = s.${pk}
      WHERE s.versions > 1 AND s.arrival_seq IS DISTINCT FROM w.arrival_seq)`,
    `${n.outcomes} AS (
      SELECT arrival_seq, outcome FROM ${n.classified}
      UNION ALL
      SELECT arrival_seq, outcome FROM ${n.others})`,
  ];

  if (isLedger) {
    const newPay = `COALESCE(p.payment_tx_id, EXCLUDED.payment_tx_id)`;
    const newRec = `COALESCE(p.receive_tx_id, EXCLUDED.receive_tx_id)`;
    // Candidates for conflicts: every tx_id of the batch for this related_id (EXCLUDED carries the batch's
    // first PAYMENT / RECEIVE in the slots and the rest in conflict_tx_ids).
    const candidates = `(ARRAY[EXCLUDED.payment_tx_id, EXCLUDED.receive_tx_id] || EXCLUDED.conflict_tx_ids)`;
    // bo.pair_conflicts is only called when some candidate is not already a slot holder (the common case skips it).
    const nothingNew = `(cardinality(EXCLUDED.conflict_tx_ids) = 0
          AND (EXCLUDED.payment_tx_id IS NULL OR EXCLUDED.payment_tx_id = ${newPay})
          AND (EXCLUDED.receive_tx_id IS NULL OR EXCLUDED.receive_tx_id = ${newRec}))`;
    const newConflicts = `(CASE WHEN ${nothingNew} THEN p.conflict_tx_ids
          ELSE bo.pair_conflicts(p.conflict_tx_ids, ${candidates}, ${newPay}, ${newRec}) END)`;
    ctes.push(
      `${n.pair_batch} AS (
        SELECT k.related_id,
          (array_agg(k.${pk} ORDER BY k.arrival_seq) FILTER (WHERE k.entry_type = 'PAYMENT'))[1] AS pay,
          (array_agg(k.${pk} ORDER BY k.arrival_seq) FILTER (WHERE k.entry_type = 'RECEIVE'))[1] AS rec,
          array_agg(k.${pk} ORDER BY k.arrival_seq) AS all_tx
        FROM ${n.classified} k
        WHERE k.pairable AND k.outcome <> 'stale'
        GROUP BY k.related_id)`,
      `${n.pairs_up} AS (
        INSERT INTO bo.payment_ledger_pairs AS p
          (related_id, payment_tx_id, receive_tx_id, pairing_status, first_seen_at, completed_at, conflict_count, conflict_tx_ids)
        SELECT related_id, pay, rec,
          CASE WHEN pay IS NOT NULL AND rec IS NOT NULL THEN 'COMPLETE' ELSE 'INCOMPLETE' END,
          now(),
          CASE WHEN pay IS NOT NULL AND rec IS NOT NULL THEN now() END,
          cardinality(extra), extra
        FROM (SELECT b.*,
                CASE WHEN cardinality(b.all_tx) > (b.pay IS NOT NULL)::int + (b.rec IS NOT NULL)::int
                     THEN bo.pair_conflicts('{}'::text[], b.all_tx, b.pay, b.rec) ELSE '{}'::text[] END AS extra
              FROM ${n.pair_batch} b) x
        ORDER BY related_id
        ON CONFLICT (related_id) DO UPDATE SET
          payment_tx_id = ${newPay},
          receive_tx_id = ${newRec},
          pairing_status = CASE WHEN ${newPay} IS NOT NULL AND ${newRec} IS NOT NULL THEN 'COMPLETE' ELSE p.pairing_status END,
          completed_at = COALESCE(p.completed_at, CASE WHEN ${newPay} IS NOT NULL AND ${newRec} IS NOT NULL THEN now() END),
          conflict_tx_ids = ${newConflicts},
          conflict_count = p.conflict_count + cardinality(${newConflicts}) - cardinality(p.conflict_tx_ids)
        WHERE (p.payment_tx_id IS NULL AND EXCLUDED.payment_tx_id IS NOT NULL)
           OR (p.receive_tx_id IS NULL AND EXCLUDED.receive_tx_id IS NOT NULL)
           OR cardinality(${newConflicts}) > cardinality(p.conflict_tx_ids)
        RETURNING p.related_id, (p.xmax = 0) AS opened, p.pairing_status, p.conflict_count)`,
      // Transitions, against the pre-statement snapshot (looked up by key only where the answer is not obvious).
      `${n.pair_counts} AS (
        SELECT count(*) FILTER (WHERE r.opened) AS opened,
               count(*) FILTER (WHERE CASE WHEN r.pairing_status <> 'COMPLETE' THEN false
                                           WHEN r.opened THEN true
                                           ELSE (SELECT o.pairing_status FROM bo.payment_ledger_pairs o WHERE o.related_id = r.related_id)
                                                IS DISTINCT FROM 'COMPLETE' END) AS completed,
               COALESCE(sum(CASE WHEN r.conflict_count = 0 THEN 0
                                 WHEN r.opened THEN r.conflict_count
                                 ELSE GREATEST(r.conflict_count - COALESCE(
                                        (SELECT o.conflict_count FROM bo.payment_ledger_pairs o WHERE o.related_id = r.related_id), 0), 0)
                            END), 0) AS conflicts
        FROM ${n.pairs_up} r)`,
    );
  } else {
    ctes.push(
      `${n.pair_counts} AS (SELECT 0::bigint AS opened, 0::bigint AS completed, 0::bigint AS conflicts)`,
    );
  }

  const unpairable = isLedger
    ? `(SELECT count(*) FROM ${n.classified} WHERE NOT pairable AND outcome IN ('inserted', 'updated'))`
    : '0';
  const common = `
      pc.opened::int AS opened, pc.completed::int AS completed, pc.conflicts::int AS conflicts,
      ${unpairable}::int AS unpairable,
      (SELECT count(*) FROM ${n.src} WHERE updated_at IS NULL AND source_version IS NULL)::int AS version_missing`;
  const select =
    mode === 'rows'
      ? `SELECT (SELECT array_agg(outcome ORDER BY arrival_seq) FROM ${n.outcomes}) AS outcomes,${common} FROM ${n.pair_counts} pc`
      : `SELECT ${(['inserted', 'updated', 'unchanged', 'stale'] as const)
          .map((o) => `(SELECT count(*) FROM ${n.outcomes} WHERE outcome = '${o}')::int AS ${o}`)
          .join(', ')},${common} FROM ${n.pair_counts} pc`;
  ctes.push(`${n.result} AS (${select})`);
  return { ctes, result: n.result };
}

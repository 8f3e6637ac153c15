// Human-readable evidence reports for ops runs (Markdown), written next to the DB record.
import type { CutoverRehearsalResult, RehearsalReason } from '../workflows/types';

/** Seed 004 §9: application bugs roll back the deploy; large schema/data problems rebuild the environment. */
export const ROLLBACK_RULE: Record<RehearsalReason, string> = {
  NONE: 'No action: the rehearsal passed. Proceed with the cutover at the planned T_cutover.',
  ENVIRONMENT_BLOCKED:
    'Do not cut over. Fix the environment (database / Kafka reachability, credentials) and re-run the rehearsal; nothing was changed.',
  MIGRATION_FAILED:
    'Schema problem: rebuild the environment (fresh database, `npm run db:migrate` to head) before any deploy.',
  BACKFILL_FAILED:
    'Data problem: rebuild the environment (fresh database) after fixing the dump or the contract; the Backoffice DB is derived and is restored by backfill + sync.',
  SYNC_TIMEOUT:
    'Capacity or broker problem: do not cut over; investigate consumer lag (consumer_kafka_lag) and retention, then re-run with a new consumer generation.',
  SMOKE_FAILED:
    'Application bug: roll back the deploy (previous API version) and keep the current environment.',
  IDEMPOTENCY_FAILED:
    'Data/contract problem (replay is not idempotent): rebuild the environment with a new consumer generation after fixing the LWW/contract defect.',
};

function table(rows: string[][]): string {
  const [head, ...body] = rows;
  if (!head) return '';
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

export function renderRehearsalReport(r: CutoverRehearsalResult): string {
  const e = r.evidence;
  const lines = [
    `# Cutover rehearsal ${e.runId}`,
    '',
    `**Verdict: ${r.verdict}** — reason \`${r.reason}\` — ${r.detail}`,
    '',
    table([
      ['what', 'value'],
      ['T_cutover', e.tCutover],
      ['sync from (T_cutover − buffer)', e.syncFrom],
      ['consumer group', `\`${e.consumerGroup}\``],
      ['dump', `\`${e.dumpPath}\``],
      [
        'migration',
        e.migration
          ? `${e.migration.current ?? 'none'} (head ${e.migration.head}, applied ${e.migration.applied.length})`
          : '—',
      ],
    ]),
    '',
    '## Steps',
    '',
    table([
      ['step', 'status', 'seconds', 'counts', 'error'],
      ...r.steps.map((s) => [
        s.name,
        s.status,
        s.durationSec !== undefined ? s.durationSec.toFixed(2) : '—',
        s.counts
          ? Object.entries(s.counts)
              .map(([k, v]) => `${k}=${v}`)
              .join(', ')
          : '',
        s.error ? s.error.replace(/\|/g, '\\|').slice(0, 300) : '',
      ]),
    ]),
    '',
  ];
  if (e.smoke) {
    lines.push(
      '## Smoke checks',
      '',
      table([
        ['tx_id', 'expected', 'got', 'ok'],
        ...e.smoke.checks.map((c) => [c.txId, String(c.expected), String(c.got), c.ok ? 'yes' : 'NO']),
      ]),
      '',
    );
  }
  if (e.idempotency) {
    lines.push(
      '## Idempotency',
      '',
      `- sample: ${e.idempotency.sample.length} transactions`,
      `- hash before replay: \`${e.idempotency.hashBefore}\``,
      `- hash after replay:  \`${e.idempotency.hashAfter}\``,
      `- mismatched: ${e.idempotency.mismatched.length ? e.idempotency.mismatched.join(', ') : 'none'}`,
      '',
    );
  }
  if (e.runRecordErrors?.length) {
    lines.push(
      '## Run record',
      '',
      'Recording this run in bo.ops_runs failed (the rehearsal went on without it); this report is its evidence.',
      '',
      ...e.runRecordErrors.map((err) => `- ${err}`),
      '',
    );
  }
  lines.push(
    '## Rollback decision rule (seed 004 §9)',
    '',
    '- Application bugs (`SMOKE_FAILED`) → **roll back the deploy**.',
    '- Schema or data problems (`MIGRATION_FAILED`, `BACKFILL_FAILED`, `IDEMPOTENCY_FAILED`) → **rebuild the environment** (fresh DB, migrate to head, backfill, new consumer generation).',
    '- Environment or capacity (`ENVIRONMENT_BLOCKED`, `SYNC_TIMEOUT`) → **do not cut over**; fix and re-run the rehearsal.',
    '',
    `**For this run:** ${ROLLBACK_RULE[r.reason]}`,
    '',
  );
  return lines.join('\n');
}

/** Reports for the other workflows: a heading, the outcome and the JSON result. */
export function renderGenericReport(kind: string, runId: string, status: string, result: unknown): string {
  return [
    `# ${kind} ${runId}`,
    '',
    `**Status: ${status}**`,
    '',
    '```json',
    JSON.stringify(result, null, 2),
    '```',
    '',
  ].join('\n');
}

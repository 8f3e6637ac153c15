// CLI: npm run backfill -- --dump <dir|file> --until <RFC3339> [--profile id] [--fresh] [--chunk-lines N]
// Loads a dump with event_time < until; resumable (re-run after a crash or Ctrl-C continues after the last
// committed chunk). Prints a JSON summary on stdout; progress goes to stderr (bar on a TTY, JSON logs otherwise).
import { parseArgs } from 'node:util';
import { getProfile } from '../contract';
import { envOrExit } from '../core/env';
import { closePool } from '../db/pool';
import { BackfillInputError, runBackfill } from './backfill';
import { intFlag, runCli, timeFlag, UsageError } from './cli-args';
import { createProgressReporter } from './progress';

const USAGE = `usage: npm run backfill -- --dump <dir|file> --until <RFC3339> [options]
  --dump PATH           an .ndjson / .ndjson.gz file, or a directory of them (read in name order)
  --until T             load rows with event_time < T (RFC 3339 with timezone, e.g. 2026-02-24T10:00:00Z)
  --profile ID          event profile of the dump (default EVENT_PROFILE_ID)
  --fresh               start over even if this dump+until already completed (changes nothing in the DB)
  --chunk-lines N       lines per transaction (default 20000)
  --checkpoint-id ID    explicit checkpoint id (default: hash of the dump's real path and until)`;

await runCli(USAGE, async () => {
  const config = envOrExit();
  const { values } = parseArgs({
    options: {
      dump: { type: 'string' },
      until: { type: 'string' },
      profile: { type: 'string' },
      fresh: { type: 'boolean' },
      'chunk-lines': { type: 'string' },
      'checkpoint-id': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.dump) throw new UsageError('--dump is required');
  const until = timeFlag(values.until, 'until');
  if (!until) throw new UsageError('--until is required');
  let profile;
  try {
    profile = getProfile(values.profile ?? config.EVENT_PROFILE_ID);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const chunkLines = intFlag(values['chunk-lines'], 'chunk-lines', 20_000, 1);

  const abort = new AbortController();
  const onSignal = (sig: string) => {
    process.stderr.write(`\n${sig}: stopping after the chunk in flight commits (re-run to resume)\n`);
    abort.abort(new Error(`interrupted by ${sig}`));
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));

  const progress = createProgressReporter({ component: 'backfill' });
  try {
    const result = await runBackfill({
      dumpPath: values.dump,
      until,
      profile,
      chunkLines,
      fresh: values.fresh ?? false,
      checkpointId: values['checkpoint-id'],
      signal: abort.signal,
      onProgress: (p) =>
        progress.update({
          done: p.bytesRead,
          total: p.totalBytes,
          rate: p.rate,
          rateUnit: 'lines/s',
          etaSec: p.etaSec,
          fields: {
            lines: p.linesRead,
            applied: p.rowsApplied,
            dlq: p.rowsDlq,
            skipped: p.rowsSkippedAfterUntil,
          },
        }),
    });
    progress.finish();
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } catch (err) {
    progress.finish();
    if (err instanceof BackfillInputError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    if (abort.signal.aborted) {
      process.stderr.write(
        'backfill interrupted; committed chunks are kept, re-run the same command to resume\n',
      );
      return 130;
    }
    throw err;
  } finally {
    await closePool();
  }
});

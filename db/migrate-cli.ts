// `npm run db:migrate [-- --status]`: apply pending migrations (or only report), printing current and head.
// Exit 1 with one clear line on a checksum mismatch, a missing file or a connection failure.
import { envOrExit } from '../core/env';
import { MigrationError, TransientDbError } from './errors';
import { migrateToHead, migrationStatus } from './migrate';

function usage(): never {
  process.stderr.write('usage: db:migrate [--status] [--database-url postgres://...]\n');
  process.exit(2);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let statusOnly = false;
  let databaseUrl: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--status') statusOnly = true;
    else if (a === '--database-url') databaseUrl = args[++i] ?? usage();
    else if (a === '--help' || a === '-h') usage();
    else {
      process.stderr.write(`unknown argument ${a}\n`);
      usage();
    }
  }
  const url = databaseUrl ?? envOrExit().DATABASE_URL;
  try {
    if (statusOnly) {
      const s = await migrationStatus(url);
      process.stdout.write(`current: ${s.current ?? '(none)'}  head: ${s.head}\n`);
      process.stdout.write(s.pending.length ? `pending: ${s.pending.join(', ')}\n` : 'pending: none\n');
    } else {
      const r = await migrateToHead(url);
      process.stdout.write(`current: ${r.current}  head: ${r.head}\n`);
      process.stdout.write(
        r.applied.length ? `applied: ${r.applied.join(', ')}\n` : 'applied: none (already at head)\n',
      );
    }
  } catch (err) {
    if (err instanceof MigrationError) {
      process.stderr.write(`migration refused: ${err.message}\n`);
    } else if (err instanceof TransientDbError) {
      process.stderr.write(`database unavailable: ${err.message}\n`);
    } else {
      process.stderr.write(`migration failed: ${(err as Error)?.message ?? String(err)}\n`);
    }
    process.exit(1);
  }
}

void main();

// vitest globalSetup for the integration project: bring the real stack up (idempotent, seconds when warm),
// give the run a database of its own and migrate it to head. The stack is shared across runs and is NOT torn
// down afterwards; `bash ops/stack down` is an explicit operator action.
// STACK_EXTERNAL=1 skips `ops/stack up` (services managed elsewhere, e.g. docker compose).
//
// The tests write rows under unique prefixes and leave them (a failed run can be inspected). In the stack's
// own database that piled up - 3.4M ledger entries after a week of runs on one machine, next to the demo data -
// and slowed the property tests past their timeout. So, unless DATABASE_URL is set (then it is used as it is),
// the suite runs in `txlookup_test`, dropped and created again at the start of every run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const TEST_DATABASE = 'txlookup_test';

/** Sets the services' addresses; true when the run gets the test database of its own (DATABASE_URL unset). */
function setDefaultEnv(): boolean {
  // Test workers inherit process.env, so every test file sees the same addresses (SPEC §8 defaults).
  const pgPort = process.env.PGPORT ?? '5432';
  const stackDb = (name: string) => `postgres://txlookup:txlookup@127.0.0.1:${pgPort}/${name}`;
  const ownDatabase = process.env.DATABASE_URL === undefined;
  // The stack's own database (the SPEC default): the stack smoke test checks it, the test database is made there.
  process.env.STACK_DATABASE_URL ??= process.env.DATABASE_URL ?? stackDb('txlookup');
  process.env.DATABASE_URL ??= stackDb(TEST_DATABASE);
  process.env.KAFKA_BROKERS ??= `127.0.0.1:${process.env.KAFKA_PORT ?? '9092'}`;
  process.env.TEMPORAL_ADDRESS ??= `127.0.0.1:${process.env.TEMPORAL_PORT ?? '7233'}`;
  process.env.TEMPORAL_NAMESPACE ??= 'default';
  process.env.TEMPORAL_UI_URL ??= `http://127.0.0.1:${process.env.TEMPORAL_UI_PORT ?? '8233'}`;
  return ownDatabase;
}

async function recreateTestDatabase(): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: process.env.STACK_DATABASE_URL });
  await client.connect();
  try {
    // FORCE: a previous run killed mid-way may still hold connections to it.
    await client.query(`DROP DATABASE IF EXISTS ${TEST_DATABASE} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${TEST_DATABASE}`);
  } catch (err) {
    throw new Error(
      `could not create the test database ${TEST_DATABASE} (${(err as Error).message}); the role needs CREATEDB ` +
        '(ops/stack grants it), or set DATABASE_URL to a database the tests may use as it is',
    );
  } finally {
    await client.end();
  }
  process.stderr.write(`[global-setup] fresh database ${TEST_DATABASE}\n`);
}

function stackUp(): void {
  if (process.env.STACK_EXTERNAL === '1') return;
  const started = Date.now();
  const result = spawnSync('bash', [path.join(repoRoot, 'ops', 'stack'), 'up'], {
    cwd: repoRoot,
    stdio: 'inherit',
    env: process.env,
  });
  if (result.error) throw new Error(`could not run ops/stack up: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(
      `ops/stack up failed (exit ${result.status ?? `signal ${result.signal}`}); see its output above and 'bash ops/stack logs'`,
    );
  }
  process.stderr.write(`[global-setup] stack up in ${Date.now() - started} ms\n`);
}

async function migrate(): Promise<void> {
  // db/migrate.ts is owned by the DB helper; skip quietly until it exists.
  if (!existsSync(path.join(repoRoot, 'db', 'migrate.ts'))) return;
  const m = (await import('../../db/migrate')) as {
    migrateToHead: (databaseUrl?: string) => Promise<{ current: string; head: string }>;
  };
  const result = await m.migrateToHead(process.env.DATABASE_URL);
  process.stderr.write(`[global-setup] database at ${result.current} (head ${result.head})\n`);
}

export default async function setup(): Promise<void> {
  const ownDatabase = setDefaultEnv();
  stackUp();
  if (ownDatabase) await recreateTestDatabase();
  await migrate();
}

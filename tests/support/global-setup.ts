// vitest globalSetup for the integration project: bring the real stack up (idempotent, seconds when warm)
// and migrate the database to head. The stack is shared across runs and is NOT torn down afterwards;
// `bash ops/stack down` is an explicit operator action.
// STACK_EXTERNAL=1 skips `ops/stack up` (services managed elsewhere, e.g. docker compose).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function setDefaultEnv(): void {
  // Test workers inherit process.env, so every test file sees the same addresses (SPEC §8 defaults).
  const pgPort = process.env.PGPORT ?? '5432';
  process.env.DATABASE_URL ??= `postgres://txlookup:txlookup@127.0.0.1:${pgPort}/txlookup`;
  process.env.KAFKA_BROKERS ??= `127.0.0.1:${process.env.KAFKA_PORT ?? '9092'}`;
  process.env.TEMPORAL_ADDRESS ??= `127.0.0.1:${process.env.TEMPORAL_PORT ?? '7233'}`;
  process.env.TEMPORAL_NAMESPACE ??= 'default';
  process.env.TEMPORAL_UI_URL ??= `http://127.0.0.1:${process.env.TEMPORAL_UI_PORT ?? '8233'}`;
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
  setDefaultEnv();
  stackUp();
  await migrate();
}

// Forward-only migrations (SPEC §3): `migrations/NNNN_name.sql`, applied in order, each in its own
// transaction, recorded with a sha256 checksum in <schema>.schema_migrations. The whole run holds a
// pg_advisory_lock, so two processes migrating at once apply each file exactly once.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { env } from '../core/env';
import { logger } from '../core/log';
import { MigrationError, TransientDbError, classifyPgError } from './errors';

const log = logger('migrate');

export const DEFAULT_MIGRATIONS_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../migrations',
);
const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;
// A file whose first line is this marker runs outside a transaction (e.g. CREATE INDEX CONCURRENTLY).
const NO_TRANSACTION_MARKER = '-- migrate:no-transaction';

export interface MigrateOptions {
  /** Directory of NNNN_name.sql files (default: the repo's migrations/). */
  migrationsDir?: string;
  /** Schema holding the schema_migrations ledger (default 'bo'). Tests point this at a scratch schema. */
  ledgerSchema?: string;
}

export interface MigrationFile {
  /** '0001_bo_schema' — the revision id reported as current/head. */
  id: string;
  version: string;
  name: string;
  file: string;
  sql: string;
  checksum: string;
}

export interface AppliedMigration {
  version: string;
  name: string;
  checksum: string;
  applied_at: Date;
}

export interface MigrationStatus {
  current: string | null;
  head: string;
  pending: string[];
}

export interface MigrateResult {
  current: string;
  head: string;
  applied: string[];
}

function resolveOptions(options?: MigrateOptions): Required<MigrateOptions> {
  const ledgerSchema = options?.ledgerSchema ?? 'bo';
  if (!/^[a-z_][a-z0-9_]*$/.test(ledgerSchema)) {
    throw new MigrationError(
      `ledger schema must be a plain lowercase identifier, got ${JSON.stringify(ledgerSchema)}`,
    );
  }
  return { migrationsDir: options?.migrationsDir ?? DEFAULT_MIGRATIONS_DIR, ledgerSchema };
}

/** The migration files in version order; refuses duplicate versions and misnamed .sql files. */
export async function readMigrationFiles(migrationsDir = DEFAULT_MIGRATIONS_DIR): Promise<MigrationFile[]> {
  let names: string[];
  try {
    names = await readdir(migrationsDir);
  } catch (err) {
    throw new MigrationError(`cannot read migrations directory ${migrationsDir}: ${(err as Error).message}`);
  }
  const files: MigrationFile[] = [];
  for (const file of names.filter((n) => n.endsWith('.sql')).sort()) {
    const m = FILE_PATTERN.exec(file);
    if (!m) throw new MigrationError(`migration file ${file} is not named NNNN_name.sql (lowercase name)`);
    const sql = await readFile(path.join(migrationsDir, file), 'utf8');
    files.push({
      id: file.slice(0, -'.sql'.length),
      version: m[1]!,
      name: m[2]!,
      file,
      sql,
      checksum: createHash('sha256').update(sql, 'utf8').digest('hex'),
    });
  }
  for (let i = 1; i < files.length; i++) {
    if (files[i]!.version === files[i - 1]!.version) {
      throw new MigrationError(
        `two migration files share version ${files[i]!.version}: ${files[i - 1]!.file}, ${files[i]!.file}`,
      );
    }
  }
  if (files.length === 0) throw new MigrationError(`no migration files in ${migrationsDir}`);
  return files;
}

// One lock per ledger: runs against a scratch ledger (tests) do not wait for the real one.
function lockKey(ledgerSchema: string): bigint {
  return createHash('sha256').update(`tx-lookup:migrate:${ledgerSchema}`).digest().readBigInt64BE(0);
}

async function connect(databaseUrl: string): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: databaseUrl,
    connectionTimeoutMillis: 10_000,
    application_name: 'tx-lookup:migrate',
  });
  // A connection dropped between queries surfaces on the next query; do not let it crash the process.
  client.on('error', (err) => log.warn('migration connection error', { err }));
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw new TransientDbError(
      `cannot connect to the database (${redactUrl(databaseUrl)}): ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return client;
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

async function ledgerExists(client: pg.ClientBase, schema: string): Promise<boolean> {
  const res = await client.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [
    `${schema}.schema_migrations`,
  ]);
  return res.rows[0]?.exists === true;
}

async function readLedger(client: pg.ClientBase, schema: string): Promise<AppliedMigration[]> {
  if (!(await ledgerExists(client, schema))) return [];
  const res = await client.query<AppliedMigration>(
    `SELECT version, name, checksum, applied_at FROM ${schema}.schema_migrations ORDER BY version`,
  );
  return res.rows;
}

/** Compare the ledger with the files: edited or vanished applied migrations are refused; returns the pending files. */
function plan(
  files: MigrationFile[],
  applied: AppliedMigration[],
): { current: string | null; pending: MigrationFile[] } {
  const byVersion = new Map(files.map((f) => [f.version, f]));
  for (const a of applied) {
    const f = byVersion.get(a.version);
    if (!f) {
      throw new MigrationError(
        `migration ${a.version}_${a.name} is recorded as applied but its file is missing from the migrations directory; migrations are forward-only`,
      );
    }
    if (f.checksum !== a.checksum) {
      throw new MigrationError(
        `migration file ${f.file} was changed after it was applied (checksum ${f.checksum.slice(0, 12)}… != recorded ${a.checksum.slice(0, 12)}…); ` +
          'applied migrations are never edited: restore the file and add a new NNNN_name.sql revision instead',
      );
    }
  }
  const last = applied.at(-1);
  const appliedVersions = new Set(applied.map((a) => a.version));
  const pending = files.filter((f) => !appliedVersions.has(f.version));
  if (last) {
    const early = pending.find((f) => f.version < last.version);
    if (early) {
      throw new MigrationError(
        `migration file ${early.file} sorts before the already-applied ${last.version}_${last.name}; give it a version after ${last.version}`,
      );
    }
  }
  return { current: last ? `${last.version}_${last.name}` : null, pending };
}

function wrapConnectionFailure(err: unknown): unknown {
  if (err instanceof MigrationError || err instanceof TransientDbError) return err;
  if (classifyPgError(err) === 'transient') {
    return new TransientDbError(`database connection failed during migration: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return err;
}

/** Apply every pending migration, in order, under an advisory lock. */
export async function migrateToHead(databaseUrl?: string, options?: MigrateOptions): Promise<MigrateResult> {
  const { migrationsDir, ledgerSchema } = resolveOptions(options);
  const files = await readMigrationFiles(migrationsDir);
  const head = files.at(-1)!.id;
  const client = await connect(databaseUrl ?? env().DATABASE_URL);
  const key = lockKey(ledgerSchema);
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [key.toString()]);
    try {
      // Bootstrap under the lock: concurrent CREATE SCHEMA IF NOT EXISTS can otherwise race.
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${ledgerSchema}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${ledgerSchema}.schema_migrations (
          version    text PRIMARY KEY,
          name       text NOT NULL,
          checksum   text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`);
      const { pending } = plan(files, await readLedger(client, ledgerSchema));
      const applied: string[] = [];
      for (const f of pending) {
        const inTransaction = !f.sql.trimStart().startsWith(NO_TRANSACTION_MARKER);
        const started = Date.now();
        try {
          if (inTransaction) await client.query('BEGIN');
          await client.query(f.sql);
          await client.query(
            `INSERT INTO ${ledgerSchema}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`,
            [f.version, f.name, f.checksum],
          );
          if (inTransaction) await client.query('COMMIT');
        } catch (err) {
          if (inTransaction) await client.query('ROLLBACK').catch(() => undefined);
          const wrapped = wrapConnectionFailure(err);
          if (wrapped instanceof TransientDbError) throw wrapped;
          throw new MigrationError(`migration ${f.file} failed: ${(err as Error).message}`, { cause: err });
        }
        log.info('migration applied', { migration: f.id, ms: Date.now() - started });
        applied.push(f.id);
      }
      return { current: head, head, applied };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [key.toString()]).catch(() => undefined);
    }
  } catch (err) {
    throw wrapConnectionFailure(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Where the database stands, without applying anything. Also refuses an edited applied migration. */
export async function migrationStatus(
  databaseUrl?: string,
  options?: MigrateOptions,
): Promise<MigrationStatus> {
  const { migrationsDir, ledgerSchema } = resolveOptions(options);
  const files = await readMigrationFiles(migrationsDir);
  const client = await connect(databaseUrl ?? env().DATABASE_URL);
  try {
    const { current, pending } = plan(files, await readLedger(client, ledgerSchema));
    return { current, head: files.at(-1)!.id, pending: pending.map((f) => f.id) };
  } catch (err) {
    throw wrapConnectionFailure(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** True when every migration file is applied (and none was edited since). */
export async function isAtHead(databaseUrl?: string, options?: MigrateOptions): Promise<boolean> {
  const status = await migrationStatus(databaseUrl, options);
  return status.pending.length === 0 && status.current === status.head;
}

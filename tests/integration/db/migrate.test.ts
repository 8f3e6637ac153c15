// Migrations: concurrent runs apply each file once; an edited applied migration is refused by checksum.
// The scenarios run against a scratch ledger schema and a temp directory of SQL files, never the real ledger.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MigrationError } from '../../../db/errors';
import { isAtHead, migrateToHead, migrationStatus, readMigrationFiles } from '../../../db/migrate';
import { databaseUrl } from './support';

const run = promisify(execFile);
const scratch = `mig_test_${randomBytes(4).toString('hex')}`;
let dir: string;
let admin: pg.Client;

const FILE_1 = `CREATE TABLE ${scratch}.widgets (id int PRIMARY KEY);\nSELECT pg_sleep(0.2); -- widen the race window\n`;
const FILE_2 = `ALTER TABLE ${scratch}.widgets ADD COLUMN name text NOT NULL DEFAULT '';\n`;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'migrations-'));
  await writeFile(path.join(dir, '0001_widgets.sql'), FILE_1);
  await writeFile(path.join(dir, '0002_widget_name.sql'), FILE_2);
  admin = new pg.Client({ connectionString: databaseUrl() });
  await admin.connect();
});

afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS ${scratch} CASCADE`);
  await admin.end();
  await rm(dir, { recursive: true, force: true });
});

describe('migrations', () => {
  it('the real migrations reach head and report it', async () => {
    const r = await migrateToHead(databaseUrl());
    const files = await readMigrationFiles();
    expect(r.head).toBe(files.at(-1)!.id);
    expect(r.current).toBe(r.head);
    expect(await isAtHead(databaseUrl())).toBe(true);
    const s = await migrationStatus(databaseUrl());
    expect(s).toEqual({ current: r.head, head: r.head, pending: [] });
    // Every file is recorded with its sha256.
    const ledger = await admin.query<{ version: string; checksum: string }>(
      `SELECT version, checksum FROM bo.schema_migrations ORDER BY version`,
    );
    expect(ledger.rows).toEqual(files.map((f) => ({ version: f.version, checksum: f.checksum })));
  });

  it('two concurrent runs from two connections apply each file exactly once', async () => {
    const opts = { migrationsDir: dir, ledgerSchema: scratch };
    expect(await migrationStatus(databaseUrl(), opts)).toEqual({
      current: null,
      head: '0002_widget_name',
      pending: ['0001_widgets', '0002_widget_name'],
    });
    const [a, b] = await Promise.all([
      migrateToHead(databaseUrl(), opts),
      migrateToHead(databaseUrl(), opts),
    ]);
    expect([a.applied, b.applied].sort((x, y) => y.length - x.length)).toEqual([
      ['0001_widgets', '0002_widget_name'],
      [],
    ]);
    expect(a.current).toBe('0002_widget_name');
    expect(b.current).toBe('0002_widget_name');
    const cols = await admin.query(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'widgets' ORDER BY ordinal_position`,
      [scratch],
    );
    expect(cols.rows.map((r) => r.column_name)).toEqual(['id', 'name']);
    expect(await isAtHead(databaseUrl(), opts)).toBe(true);
  });

  it('an applied migration whose file changed is refused, naming the file', async () => {
    const opts = { migrationsDir: dir, ledgerSchema: scratch };
    await writeFile(path.join(dir, '0001_widgets.sql'), FILE_1.replace('id int', 'id bigint'));
    try {
      const err = await migrateToHead(databaseUrl(), opts).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MigrationError);
      expect((err as Error).message).toMatch(/0001_widgets\.sql was changed after it was applied \(checksum/);
      await expect(migrationStatus(databaseUrl(), opts)).rejects.toThrow(/0001_widgets\.sql/);
    } finally {
      await writeFile(path.join(dir, '0001_widgets.sql'), FILE_1);
    }
    expect(await isAtHead(databaseUrl(), opts)).toBe(true);
  });

  it('a new file sorting before the applied head, or a vanished applied file, is refused', async () => {
    const opts = { migrationsDir: dir, ledgerSchema: scratch };
    const early = path.join(dir, '0000_too_early.sql');
    await writeFile(early, 'SELECT 1;\n');
    await expect(migrateToHead(databaseUrl(), opts)).rejects.toThrow(
      /0000_too_early\.sql sorts before the already-applied 0002_widget_name/,
    );
    await rm(early);
    const second = path.join(dir, '0002_widget_name.sql');
    await rm(second);
    await expect(migrateToHead(databaseUrl(), opts)).rejects.toThrow(
      /0002_widget_name is recorded as applied but its file is missing/,
    );
    await writeFile(second, FILE_2);
  });

  it('a failing migration rolls back entirely and is not recorded', async () => {
    const opts = { migrationsDir: dir, ledgerSchema: scratch };
    const bad = path.join(dir, '0003_half_done.sql');
    await writeFile(
      bad,
      `CREATE TABLE ${scratch}.half (id int);\nSELECT * FROM ${scratch}.does_not_exist;\n`,
    );
    try {
      await expect(migrateToHead(databaseUrl(), opts)).rejects.toThrow(
        /migration 0003_half_done\.sql failed/,
      );
      const half = await admin.query(`SELECT to_regclass($1) AS t`, [`${scratch}.half`]);
      expect(half.rows[0].t).toBeNull();
      expect((await migrationStatus(databaseUrl(), opts)).pending).toEqual(['0003_half_done']);
    } finally {
      await rm(bad);
    }
  });

  it('the CLI prints current and head, and exits 1 when the database is unreachable', async () => {
    const cli = path.resolve(import.meta.dirname, '../../../db/migrate-cli.ts');
    const tsx = path.resolve(import.meta.dirname, '../../../node_modules/.bin/tsx');
    const ok = await run(tsx, [cli, '--status'], { env: { ...process.env, DATABASE_URL: databaseUrl() } });
    expect(ok.stdout).toMatch(/^current: \d{4}_\w+ {2}head: \d{4}_\w+\npending: none\n$/);
    const down = await run(tsx, [cli], {
      env: { ...process.env, DATABASE_URL: 'postgres://u:secret@127.0.0.1:1/x' },
    }).catch((e: { code: number; stderr: string }) => e);
    expect((down as { code: number }).code).toBe(1);
    expect((down as { stderr: string }).stderr).toMatch(
      /database unavailable: cannot connect .*ECONNREFUSED/,
    );
    expect((down as { stderr: string }).stderr).not.toContain('secret');
  });
});

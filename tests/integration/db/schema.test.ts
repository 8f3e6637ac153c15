// db/schema.ts (drizzle, the TS types) must match what the migrations create, column for column, and its
// text enums must match the CHECK constraints value for value.
import { PgTable, getTableConfig } from 'drizzle-orm/pg-core';
import { is } from 'drizzle-orm';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../../db/schema';
import { setupPool } from './support';

let pool: pg.Pool;

beforeAll(async () => {
  pool = await setupPool();
});
afterAll(async () => {
  await pool.end();
});

const tables: PgTable[] = Object.values(schema as Record<string, unknown>).filter((v): v is PgTable =>
  is(v, PgTable),
);

describe('drizzle schema vs database', () => {
  it('covers every table of schema bo', async () => {
    const res = await pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'bo' ORDER BY table_name`,
    );
    expect(tables.map((t) => getTableConfig(t).name).sort()).toEqual(res.rows.map((r) => r.table_name));
  });

  it.each(tables.map((t) => [getTableConfig(t).name, t] as const))(
    '%s: same columns, types and nullability',
    async (name, table) => {
      const res = await pool.query<{ name: string; type: string; not_null: boolean }>(
        `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null
       FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
        [`bo.${name}`],
      );
      const sqlType = (t: string) =>
        ({ bigserial: 'bigint', timestamp: 'timestamp without time zone' })[t] ?? t;
      const declared = getTableConfig(table).columns.map((c) => ({
        name: c.name,
        type: sqlType(c.getSQLType()),
        not_null: c.notNull,
      }));
      expect(declared).toEqual(res.rows);
    },
  );

  it.each(tables.map((t) => [getTableConfig(t).name, t] as const))(
    '%s: text enums list exactly the values the CHECK constraints allow',
    async (name, table) => {
      // Each single-column CHECK's quoted literals, e.g. status IN ('RUNNING', ...) -> ['RUNNING', ...].
      const res = await pool.query<{ column: string; def: string }>(
        `SELECT a.attname AS column, pg_get_constraintdef(c.oid) AS def
         FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         WHERE c.conrelid = $1::regclass AND c.contype = 'c' AND cardinality(c.conkey) = 1`,
        [`bo.${name}`],
      );
      const allowed = new Map<string, string[]>();
      for (const r of res.rows) {
        const values = [...r.def.matchAll(/'((?:[^']|'')*)'::text/g)].map((m) => m[1]!.replace(/''/g, "'"));
        if (values.length > 0) allowed.set(r.column, [...(allowed.get(r.column) ?? []), ...values].sort());
      }
      const declared = new Map(
        getTableConfig(table)
          .columns.filter((c) => (c.enumValues?.length ?? 0) > 0)
          .map((c) => [c.name, [...c.enumValues!].sort()]),
      );
      expect(declared).toEqual(allowed);
    },
  );
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { get_dmmf } from '@prisma/prisma-schema-wasm';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@agentos/db';
import { SCHEMA_TABLES } from './support/tables';

// schema.prisma and the hand-kept migration SQL must describe the same database. The schema is
// read by Prisma's own parser (the wasm build the Prisma CLI uses, no schema engine needed), the
// database is a clone of the migrated template, and both are reduced to one shape and compared
// both ways: whatever either side has that the other lacks is listed as one line of the diff.

/** Objects only the SQL has, because Prisma cannot express them. Each is explained in the migration. */
const SQL_ONLY = {
  tables: ['_prisma_migrations'],
  indexes: [
    'jobs_active_queue_idx',
    'jobs_pending_created_at_idx',
    'alert_outbox_due_idx',
    'jobs_status_agent_created_at_idx',
    'jobs_status_worker_id_created_at_idx',
    'bulk_commands_running_idx',
    'jobs_search_text_pending_idx',
    'jobs_search_text_processing_idx',
    'jobs_search_text_completed_idx',
    'jobs_search_text_failed_idx',
    'jobs_search_text_cancelled_idx',
  ],
};

const SCHEMA_PATH = join(__dirname, '..', 'prisma', 'schema.prisma');

interface IndexShape {
  kind: 'primary key' | 'unique' | 'index';
  /** Column names in key order, each followed by ` DESC` when descending. */
  columns: string[];
  partial: boolean;
}

interface ColumnShape {
  /** As PostgreSQL's format_type() writes it: `uuid`, `timestamp(3) with time zone`, `text[]`. */
  type: string;
  nullable: boolean;
  /** As pg_get_expr() writes it, or null when the database supplies none. */
  default: string | null;
}

interface TableShape {
  columns: Map<string, ColumnShape>;
  indexes: Map<string, IndexShape>;
}

interface SchemaShape {
  enums: Map<string, string[]>;
  tables: Map<string, TableShape>;
}

// The parts of Prisma's DMMF this test reads.
interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'enum' | 'object' | 'unsupported';
  type: string;
  isList: boolean;
  isRequired: boolean;
  nativeType?: [string, string[]] | null;
  default?: unknown;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}
interface DmmfIndex {
  model: string;
  type: 'id' | 'unique' | 'normal' | 'fulltext';
  dbName?: string | null;
  fields: { name: string; sortOrder?: 'asc' | 'desc' }[];
}
interface Dmmf {
  datamodel: {
    enums: { name: string; dbName?: string | null; values: { name: string; dbName: string | null }[] }[];
    models: DmmfModel[];
    indexes: DmmfIndex[];
  };
}

function readDmmf(): Dmmf {
  const schema = readFileSync(SCHEMA_PATH, 'utf8');
  return JSON.parse(get_dmmf(JSON.stringify({ prismaSchema: [['schema.prisma', schema]] }))) as Dmmf;
}

/** What `prisma migrate` would create for the schema, in the database's own spelling. */
function fromPrismaSchema(dmmf: Dmmf): SchemaShape {
  const enumNames = new Map(dmmf.datamodel.enums.map((e) => [e.name, e.dbName ?? e.name]));
  const enums = new Map(
    dmmf.datamodel.enums.map((e) => [e.dbName ?? e.name, e.values.map((v) => v.dbName ?? v.name)]),
  );
  const tables = new Map<string, TableShape>();

  for (const model of dmmf.datamodel.models) {
    const columns = new Map<string, ColumnShape>();
    for (const field of model.fields) {
      if (field.kind !== 'scalar' && field.kind !== 'enum') continue;
      const base = field.kind === 'enum' ? (enumNames.get(field.type) ?? field.type) : scalarType(field);
      columns.set(field.dbName ?? field.name, {
        type: field.isList ? `${base}[]` : base,
        // Prisma leaves list columns nullable in PostgreSQL even though the field is required.
        nullable: !field.isRequired || field.isList,
        default: sqlDefault(field, enumNames),
      });
    }
    const table = model.dbName ?? model.name;
    const columnOf = (fieldName: string) => {
      const field = model.fields.find((f) => f.name === fieldName);
      return field?.dbName ?? fieldName;
    };
    const indexes = new Map<string, IndexShape>();
    for (const index of dmmf.datamodel.indexes.filter((i) => i.model === model.name)) {
      const columnNames = index.fields.map((f) => columnOf(f.name));
      const kind = index.type === 'id' ? 'primary key' : index.type === 'unique' ? 'unique' : 'index';
      const suffix = { 'primary key': 'pkey', unique: `${columnNames.join('_')}_key`, index: `${columnNames.join('_')}_idx` }[kind];
      indexes.set(index.dbName ?? `${table}_${suffix}`, {
        kind,
        columns: index.fields.map((f) => columnOf(f.name) + (f.sortOrder === 'desc' ? ' DESC' : '')),
        partial: false,
      });
    }
    tables.set(table, { columns, indexes });
  }
  return { enums, tables };
}

function scalarType(field: DmmfField): string {
  const [native, args = []] = field.nativeType ?? [];
  switch (field.type) {
    case 'String':
      return native === 'Uuid' ? 'uuid' : native === 'VarChar' ? `character varying(${args[0]})` : 'text';
    case 'Int':
      return native === 'SmallInt' ? 'smallint' : 'integer';
    case 'BigInt':
      return 'bigint';
    case 'Float':
      return 'double precision';
    case 'Boolean':
      return 'boolean';
    case 'Json':
      return native === 'Json' ? 'json' : 'jsonb';
    case 'DateTime': {
      const precision = args[0] ?? '3';
      if (native === 'Date') return 'date';
      return native === 'Timestamptz' ? `timestamp(${precision}) with time zone` : `timestamp(${precision}) without time zone`;
    }
    default:
      return `unmapped Prisma type ${field.type}`;
  }
}

/** The column default Prisma would put in the SQL; client-side ones (uuid(), cuid()) have none. */
function sqlDefault(field: DmmfField, enumNames: Map<string, string>): string | null {
  const value = field.default;
  if (value === undefined || value === null) return null;
  if (typeof value === 'object' && 'name' in value) {
    const fn = (value as { name: string; args: unknown[] }).name;
    if (fn === 'now') return 'CURRENT_TIMESTAMP';
    if (fn === 'dbgenerated') return String((value as { args: unknown[] }).args[0]);
    return null;
  }
  if (field.kind === 'enum') return `'${String(value)}'::${enumNames.get(field.type) ?? field.type}`;
  // The DMMF writes a BigInt default as a string of digits; the SQL has the bare number.
  if (field.type === 'BigInt') return String(value);
  if (typeof value === 'string') return `'${value.replace(/'/g, "''")}'::text`;
  return String(value);
}

/** What the migrated database holds, read from the catalog. */
async function fromDatabase(client: pg.Client): Promise<SchemaShape> {
  const enumRows = await client.query<{ name: string; labels: string[] }>(
    `SELECT t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[] AS labels
       FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
      WHERE t.typnamespace = 'public'::regnamespace
      GROUP BY t.typname`,
  );
  const columnRows = await client.query<{ table: string; column: string; type: string; nullable: boolean; default: string | null }>(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
            NOT a.attnotnull AS nullable, pg_get_expr(d.adbin, d.adrelid) AS default
       FROM pg_class c
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
      ORDER BY c.relname, a.attnum`,
  );
  const indexRows = await client.query<{ table: string; name: string; kind: IndexShape['kind']; columns: string[]; partial: boolean; constraint: string | null }>(
    `SELECT t.relname AS table, i.relname AS name,
            CASE WHEN x.indisprimary THEN 'primary key' WHEN x.indisunique THEN 'unique' ELSE 'index' END AS kind,
            array(SELECT a.attname || CASE WHEN x.indoption[k.n - 1] & 1 = 1 THEN ' DESC' ELSE '' END
                    FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k (attnum, n)
                    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
                   ORDER BY k.n)::text[] AS columns,
            x.indpred IS NOT NULL AS partial,
            con.conname AS constraint
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
       LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.contype = 'p'
      WHERE t.relnamespace = 'public'::regnamespace`,
  );

  const tables = new Map<string, TableShape>();
  const tableOf = (name: string) => {
    let table = tables.get(name);
    if (!table) tables.set(name, (table = { columns: new Map(), indexes: new Map() }));
    return table;
  };
  for (const row of columnRows.rows) {
    tableOf(row.table).columns.set(row.column, { type: row.type, nullable: row.nullable, default: row.default });
  }
  for (const row of indexRows.rows) {
    // A primary key is a constraint with its index; Prisma names the two alike, and so must we.
    if (row.kind === 'primary key' && row.constraint !== row.name) {
      tableOf(row.table).indexes.set(`${row.name} (constraint named ${row.constraint})`, row);
      continue;
    }
    tableOf(row.table).indexes.set(row.name, { kind: row.kind, columns: row.columns, partial: row.partial });
  }
  return { enums: new Map(enumRows.rows.map((r) => [r.name, r.labels])), tables };
}

/** Every disagreement, one line each, phrased from the schema's point of view. */
function compare(schema: SchemaShape, database: SchemaShape): string[] {
  const problems: string[] = [];
  const show = (value: unknown) => JSON.stringify(value);

  for (const [name, values] of schema.enums) {
    const actual = database.enums.get(name);
    if (!actual) problems.push(`enum ${name}: missing in the database`);
    else if (show(actual) !== show(values)) problems.push(`enum ${name}: schema ${show(values)}, database ${show(actual)}`);
  }
  for (const name of database.enums.keys()) {
    if (!schema.enums.has(name)) problems.push(`enum ${name}: in the database, not in the schema`);
  }

  for (const [tableName, table] of schema.tables) {
    const actual = database.tables.get(tableName);
    if (!actual) {
      problems.push(`table ${tableName}: missing in the database`);
      continue;
    }
    for (const [columnName, column] of table.columns) {
      const found = actual.columns.get(columnName);
      if (!found) {
        problems.push(`column ${tableName}.${columnName}: missing in the database`);
        continue;
      }
      for (const key of ['type', 'nullable', 'default'] as const) {
        if (found[key] !== column[key]) {
          problems.push(`column ${tableName}.${columnName}: ${key} is ${show(column[key])} in the schema, ${show(found[key])} in the database`);
        }
      }
    }
    for (const columnName of actual.columns.keys()) {
      if (!table.columns.has(columnName)) problems.push(`column ${tableName}.${columnName}: in the database, not in the schema`);
    }
    for (const [indexName, index] of table.indexes) {
      const found = actual.indexes.get(indexName);
      if (!found) problems.push(`index ${indexName} on ${tableName}: missing in the database`);
      else if (show(found) !== show(index)) {
        problems.push(`index ${indexName} on ${tableName}: schema ${show(index)}, database ${show(found)}`);
      }
    }
    for (const indexName of actual.indexes.keys()) {
      if (!table.indexes.has(indexName) && !SQL_ONLY.indexes.includes(indexName)) {
        problems.push(`index ${indexName} on ${tableName}: in the database, not in the schema`);
      }
    }
  }
  for (const tableName of database.tables.keys()) {
    if (!schema.tables.has(tableName) && !SQL_ONLY.tables.includes(tableName)) {
      problems.push(`table ${tableName}: in the database, not in the schema`);
    }
  }
  return problems;
}

describe('schema.prisma and the migrations', () => {
  let database: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase('agreement');
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });

  afterAll(async () => {
    await client?.end();
    await database?.drop();
  });

  it('describe the same enums, tables, columns and indexes', async () => {
    const schema = fromPrismaSchema(readDmmf());

    expect(compare(schema, await fromDatabase(client))).toEqual([]);
    // Guards against comparing two empty shapes: the schema was really read.
    expect([...schema.tables.keys()].sort()).toEqual(SCHEMA_TABLES);
  });

  it('has the SQL-only extras it documents, and they are what the schema cannot say', async () => {
    const database = await fromDatabase(client);

    expect(database.tables.get('jobs')?.indexes.get('jobs_active_queue_idx')).toEqual({
      kind: 'index',
      columns: ['queue', 'status', 'created_at'],
      partial: true,
    });
    expect(database.tables.get('alert_outbox')?.indexes.get('alert_outbox_due_idx')).toEqual({ kind: 'index', columns: ['next_attempt_at'], partial: true });
    expect(database.tables.has('_prisma_migrations')).toBe(true);
  });

  it('reports each disagreement as one readable line', async () => {
    const schema = fromPrismaSchema(readDmmf());
    await client.query('BEGIN');
    try {
      await client.query(`
        ALTER TABLE jobs ALTER COLUMN queue DROP NOT NULL;
        ALTER TABLE jobs ALTER COLUMN attempts SET DEFAULT 1;
        ALTER TABLE workers ALTER COLUMN cpu TYPE real;
        ALTER TABLE workers ADD COLUMN region TEXT;
        DROP INDEX jobs_created_at_status_duration_idx;
        CREATE INDEX log_entries_level_idx ON log_entries (level);
        ALTER TYPE severity ADD VALUE 'emergency';
        CREATE TABLE stray (id INTEGER);`);

      expect(compare(schema, await fromDatabase(client)).sort()).toEqual([
        'enum severity: schema ["info","warning","critical"], database ["info","warning","critical","emergency"]',
        'table stray: in the database, not in the schema',
        'column jobs.queue: nullable is false in the schema, true in the database',
        'column jobs.attempts: default is "0" in the schema, "1" in the database',
        'index jobs_created_at_status_duration_idx on jobs: missing in the database',
        'column workers.cpu: type is "double precision" in the schema, "real" in the database',
        'column workers.region: in the database, not in the schema',
        'index log_entries_level_idx on log_entries: in the database, not in the schema',
      ].sort());
    } finally {
      await client.query('ROLLBACK');
    }
  });
});

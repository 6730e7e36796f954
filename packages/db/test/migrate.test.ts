import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  createTestDatabase,
  migrate,
  MIGRATIONS_DIR,
  MigrationFailedError,
  MigrationLockTimeoutError,
  type TestDatabase,
  UnfinishedMigrationError,
} from '@agentos/db';
import { SCHEMA_TABLES } from './support/tables';

// Read straight from disk, not through the runner's loader, so a loader bug cannot hide here.
const onDisk = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort()
  .map((name) => {
    const sql = readFileSync(join(MIGRATIONS_DIR, name, 'migration.sql'));
    return { name, checksum: createHash('sha256').update(sql).digest('hex') };
  });
const names = onDisk.map((m) => m.name);


let databases: TestDatabase[] = [];

async function bareDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase('migrate', { bare: true });
  databases.push(database);
  return database;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

interface MigrationRow {
  id: string;
  checksum: string;
  migration_name: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  logs: string | null;
  applied_steps_count: number;
}

const migrationRows = (url: string) =>
  query<MigrationRow>(url, 'SELECT * FROM _prisma_migrations ORDER BY migration_name');

afterEach(async () => {
  await Promise.all(databases.map((database) => database.drop()));
  databases = [];
});

describe('migrate', () => {
  it('creates every table, enum and index on an empty database', async () => {
    const { url } = await bareDatabase();

    const result = await migrate(url);

    expect(result).toEqual({ applied: names, skipped: [] });
    const tables = await query<{ table_name: string }>(
      url,
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    expect(tables.map((t) => t.table_name)).toEqual(['_prisma_migrations', ...SCHEMA_TABLES]);
    const enums = await query<{ typname: string }>(
      url,
      "SELECT typname FROM pg_type WHERE typtype = 'e' AND typnamespace = 'public'::regnamespace ORDER BY typname",
    );
    expect(enums.map((e) => e.typname)).toEqual(['agent_status', 'command_action', 'command_status', 'job_status', 'log_level', 'severity', 'worker_status']);
    const partial = await query<{ indexdef: string }>(
      url,
      "SELECT indexdef FROM pg_indexes WHERE indexname = 'jobs_active_queue_idx'",
    );
    expect(partial[0]?.indexdef).toMatch(/ON public\.jobs USING btree \(queue, status, created_at\) WHERE/);
  });

  it('records each migration as prisma migrate deploy does, with the sha256 of its file', async () => {
    const { url } = await bareDatabase();

    await migrate(url);

    const rows = await migrationRows(url);
    expect(rows.map((r) => ({ name: r.migration_name, checksum: r.checksum }))).toEqual(
      onDisk.map((m) => ({ name: m.name, checksum: m.checksum })),
    );
    for (const row of rows) {
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.rolled_back_at).toBeNull();
      expect(row.logs).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }
  });

  it('creates _prisma_migrations with exactly the columns Prisma reads', async () => {
    const { url } = await bareDatabase();

    await migrate(url);

    const columns = await query(
      url,
      `SELECT column_name, data_type, character_maximum_length AS length, is_nullable, column_default
         FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    expect(columns).toEqual([
      { column_name: 'id', data_type: 'character varying', length: 36, is_nullable: 'NO', column_default: null },
      { column_name: 'checksum', data_type: 'character varying', length: 64, is_nullable: 'NO', column_default: null },
      { column_name: 'finished_at', data_type: 'timestamp with time zone', length: null, is_nullable: 'YES', column_default: null },
      { column_name: 'migration_name', data_type: 'character varying', length: 255, is_nullable: 'NO', column_default: null },
      { column_name: 'logs', data_type: 'text', length: null, is_nullable: 'YES', column_default: null },
      { column_name: 'rolled_back_at', data_type: 'timestamp with time zone', length: null, is_nullable: 'YES', column_default: null },
      { column_name: 'started_at', data_type: 'timestamp with time zone', length: null, is_nullable: 'NO', column_default: 'now()' },
      { column_name: 'applied_steps_count', data_type: 'integer', length: null, is_nullable: 'NO', column_default: '0' },
    ]);
  });

  it('does nothing the second time', async () => {
    const { url } = await bareDatabase();
    await migrate(url);
    const before = await migrationRows(url);
    const lines: string[] = [];

    const result = await migrate(url, { log: (line) => lines.push(line) });

    expect(result).toEqual({ applied: [], skipped: names });
    expect(await migrationRows(url)).toEqual(before);
    expect(lines).toEqual(['database is up to date']);
  });

  it('lets concurrent callers all succeed and applies each migration once', async () => {
    const { url } = await bareDatabase();

    const results = await Promise.all([migrate(url), migrate(url), migrate(url)]);

    expect(results.flatMap((r) => r.applied).sort()).toEqual(names);
    for (const result of results) expect([...result.applied, ...result.skipped].sort()).toEqual(names);
    expect((await migrationRows(url)).map((r) => r.migration_name)).toEqual(names);
  });

  it('waits on the lock prisma migrate deploy takes, and gives up after lockTimeoutMs', async () => {
    const { url } = await bareDatabase();
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(72707369)');

      const attempt = migrate(url, { lockTimeoutMs: 200 });

      await expect(attempt).rejects.toBeInstanceOf(MigrationLockTimeoutError);
      await expect(attempt).rejects.toMatchObject({ code: 'MIGRATION_LOCK_TIMEOUT' });
      const tables = await holder.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'jobs'");
      expect(tables.rowCount).toBe(0);
    } finally {
      await holder.end();
    }
  });

  describe('with a migration that fails', () => {
    let dir: string;

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'agentos-migrations-'));
      cpSync(MIGRATIONS_DIR, dir, { recursive: true });
      mkdirSync(join(dir, '99990101000000_broken'));
      writeFileSync(
        join(dir, '99990101000000_broken', 'migration.sql'),
        'CREATE TABLE "broken_half" ("id" INTEGER);\nSELECT 1 / 0;\n',
      );
    });

    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('keeps the ones before it and nothing of it', async () => {
      const { url } = await bareDatabase();

      const attempt = migrate(url, { migrationsDir: dir });

      await expect(attempt).rejects.toBeInstanceOf(MigrationFailedError);
      await expect(attempt).rejects.toMatchObject({
        code: 'MIGRATION_FAILED',
        migration: '99990101000000_broken',
        message: 'migration 99990101000000_broken failed: division by zero',
      });
      expect((await migrationRows(url)).map((r) => r.migration_name)).toEqual(names);
      const half = await query(url, "SELECT 1 FROM information_schema.tables WHERE table_name = 'broken_half'");
      expect(half).toEqual([]);
    });
  });

  it('refuses to go on past a migration that started and never finished', async () => {
    const { url } = await bareDatabase();
    await migrate(url);
    await query(
      url,
      `INSERT INTO _prisma_migrations (id, checksum, migration_name) VALUES ($1, $2, '20000101000000_half_done')`,
      ['00000000-0000-4000-8000-000000000000', '0'.repeat(64)],
    );

    const attempt = migrate(url);

    await expect(attempt).rejects.toBeInstanceOf(UnfinishedMigrationError);
    await expect(attempt).rejects.toMatchObject({
      code: 'MIGRATION_UNFINISHED',
      migrations: ['20000101000000_half_done'],
    });
  });

  it('warns about an applied migration whose file changed since', async () => {
    const { url } = await bareDatabase();
    await migrate(url);
    const first = names[0] ?? '';
    await query(url, "UPDATE _prisma_migrations SET checksum = repeat('0', 64) WHERE migration_name = $1", [first]);
    const lines: string[] = [];

    const result = await migrate(url, { log: (line) => lines.push(line) });

    expect(result.applied).toEqual([]);
    expect(lines).toContain(`warning: migration ${first} was edited after it was applied (checksum differs)`);
  });
});

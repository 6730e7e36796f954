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

  it('20261203000000_platform_ids_commands_alerts keeps the rows written before it, ids and all, and takes opaque ids after', async () => {
    const { url } = await bareDatabase();
    // The migrations before it only, from a copy of the directory.
    const dir = mkdtempSync(join(tmpdir(), 'ssot-migrations-'));
    try {
      const target = names.indexOf('20261203000000_platform_ids_commands_alerts');
      expect(target).toBeGreaterThan(0);
      for (const name of names.slice(0, target)) cpSync(join(MIGRATIONS_DIR, name), join(dir, name), { recursive: true });
      await migrate(url, { migrationsDir: dir });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const jobId = '6f1c3a52-8a0e-4d0b-9a43-1b2f0e3c4d5e';
    const workerId = '9d8c7b6a-5f4e-4d3c-8b2a-190817263544';
    const eventId = 'e1e1e1e1-0000-4000-8000-000000000001';
    await query(
      url,
      `INSERT INTO jobs (id, queue, type, status, user_id, worker_id, attempts, created_at, updated_at)
       VALUES ($1, 'pipeline', 'render', 'completed', $2, $3, 1, now(), now())`,
      [jobId, '0b7e2c1d-3f4a-4b5c-8d6e-7f8091a2b3c4', workerId],
    );
    await query(url, `INSERT INTO workers (id, hostname, queues) VALUES ($1, 'w1', '{pipeline}')`, [workerId]);
    await query(url, `INSERT INTO processed_events (id, name, occurred_at) VALUES ($1, 'job:completed', now())`, [eventId]);
    await query(url, `INSERT INTO log_entries (id, level, source, message, job_id) VALUES ($1, 'error', 'pipeline', 'failed once', $2)`, [eventId, jobId]);
    await query(url, `INSERT INTO notifications (id, kind, title, message, event_id) VALUES (gen_random_uuid(), 'notify_admin', 't', 'm', $1)`, [eventId]);

    await migrate(url);

    expect(await query(url, 'SELECT id, source, user_id, worker_id, status FROM jobs')).toEqual([
      { id: jobId, source: 'api', user_id: '0b7e2c1d-3f4a-4b5c-8d6e-7f8091a2b3c4', worker_id: workerId, status: 'completed' },
    ]);
    expect(await query(url, 'SELECT id FROM workers')).toEqual([{ id: workerId }]);
    expect(await query(url, 'SELECT id FROM processed_events')).toEqual([{ id: eventId }]);
    expect(await query(url, 'SELECT id, job_id FROM log_entries')).toEqual([{ id: eventId, job_id: jobId }]);
    expect(await query(url, 'SELECT event_id FROM notifications')).toEqual([{ event_id: eventId }]);
    // The columns are text now, their indexes still there (rebuilt by the type change).
    const types = await query<{ column_name: string; data_type: string }>(
      url,
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'jobs' AND column_name IN ('id', 'user_id', 'worker_id') ORDER BY column_name",
    );
    expect(types).toEqual([
      { column_name: 'id', data_type: 'text' },
      { column_name: 'user_id', data_type: 'text' },
      { column_name: 'worker_id', data_type: 'text' },
    ]);
    const indexes = await query<{ indexname: string }>(url, "SELECT indexname FROM pg_indexes WHERE tablename = 'jobs' ORDER BY indexname");
    expect(indexes.map((i) => i.indexname)).toEqual(expect.arrayContaining(['jobs_pkey', 'jobs_user_id_created_at_idx', 'jobs_active_queue_idx']));
    await query(url, `INSERT INTO jobs (id, queue, type, status, user_id, created_at, updated_at) VALUES ('42', 'q', 't', 'pending', 'auth0|5f3a', now(), now())`);
    expect(await query(url, `SELECT id FROM jobs WHERE user_id = 'auth0|5f3a'`)).toEqual([{ id: '42' }]);
  });
});

import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { type Log, sessionConfig, silent } from './connection';
import {
  MigrationFailedError,
  MigrationLockTimeoutError,
  MigrationsNotFoundError,
  UnfinishedMigrationError,
} from './errors';

/**
 * The package's migrations, in Prisma's layout (`<timestamp>_<name>/migration.sql`). Resolved
 * from this file's directory, which is `src/` under jest and `dist/` at runtime: both sit beside
 * `prisma/` in the package root.
 */
export const MIGRATIONS_DIR = join(__dirname, '..', 'prisma', 'migrations');

/** One migration as found on disk. */
export interface Migration {
  /** The directory name, e.g. `20261130000000_init`; also its `migration_name` when applied. */
  name: string;
  sql: string;
  /** sha256 of `migration.sql`, hex: what Prisma stores in `_prisma_migrations.checksum`. */
  checksum: string;
}

export interface MigrateOptions {
  /** Progress lines: each migration applied, and problems worth an operator's attention. */
  log?: Log;
  /**
   * Where the migrations are.
   * @default MIGRATIONS_DIR
   */
  migrationsDir?: string;
  /**
   * How long to wait for another process (another replica starting, `prisma migrate deploy`) that
   * is migrating the same database before giving up with `MigrationLockTimeoutError`.
   * 0 waits as long as it takes.
   * @default 300000
   */
  lockTimeoutMs?: number;
}

export interface MigrateResult {
  /** Migrations this call applied, in order. */
  applied: string[];
  /** Migrations that were already recorded as applied. */
  skipped: string[];
}

/**
 * The lock `prisma migrate deploy` takes (`pg_advisory_lock(72707369)` in Prisma's schema engine).
 * Taking the same one serialises this runner with Prisma's CLI as well as with other replicas.
 */
const PRISMA_MIGRATE_LOCK_KEY = 72707369;

/** Exactly the table the Prisma schema engine creates, so `prisma migrate` reads what we write. */
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`;

const LOCK_NOT_AVAILABLE = '55P03';

/** The migrations in `dir`, oldest first (Prisma orders them by directory name). */
export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  if (!existsSync(dir)) throw new MigrationsNotFoundError(dir);
  const migrations = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'migration.sql')))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
  if (migrations.length === 0) throw new MigrationsNotFoundError(dir);
  return migrations;
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/**
 * Applies the pending migrations to `databaseUrl`, oldest first, and records each in
 * `_prisma_migrations` as `prisma migrate deploy` would, so either tool can take over from the
 * other. Safe to call from many processes at once (they queue on an advisory lock) and on every
 * start (a database that is up to date is left untouched).
 */
export async function migrate(databaseUrl: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  const log = options.log ?? silent;
  const lockTimeoutMs = options.lockTimeoutMs ?? 300_000;
  const migrations = loadMigrations(options.migrationsDir ?? MIGRATIONS_DIR);

  const client = new pg.Client(sessionConfig(databaseUrl, 'agentos-migrate'));
  await client.connect();
  try {
    await acquireLock(client, lockTimeoutMs);
    try {
      await client.query(CREATE_MIGRATIONS_TABLE);
      const rows = (
        await client.query<AppliedRow>(
          'SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY started_at',
        )
      ).rows;
      const live = rows.filter((row) => row.rolled_back_at === null);
      const unfinished = live.filter((row) => row.finished_at === null).map((row) => row.migration_name);
      if (unfinished.length > 0) throw new UnfinishedMigrationError(unfinished);

      const applied = new Map(live.map((row) => [row.migration_name, row.checksum]));
      const known = new Set(migrations.map((m) => m.name));
      for (const name of applied.keys()) {
        if (!known.has(name)) log(`warning: migration ${name} is applied but not in this build`);
      }

      const result: MigrateResult = { applied: [], skipped: [] };
      for (const migration of migrations) {
        const checksum = applied.get(migration.name);
        if (checksum !== undefined) {
          // Prisma's `migrate deploy` does not refuse an edited migration either; editing an applied
          // one is a mistake to point out, not a reason to keep a service from starting.
          if (checksum !== migration.checksum) {
            log(`warning: migration ${migration.name} was edited after it was applied (checksum differs)`);
          }
          result.skipped.push(migration.name);
          continue;
        }
        const started = Date.now();
        await applyMigration(client, migration);
        log(`applied ${migration.name} in ${Date.now() - started} ms`);
        result.applied.push(migration.name);
      }
      if (result.applied.length === 0) log('database is up to date');
      return result;
    } finally {
      // Ending the session releases the lock too; an unlock that fails must not hide the real error.
      await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    await client.end();
  }
}

async function acquireLock(client: pg.Client, timeoutMs: number): Promise<void> {
  await client.query(`SET lock_timeout = ${Math.max(0, Math.floor(timeoutMs))}`);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK_KEY]);
  } catch (error) {
    if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) throw new MigrationLockTimeoutError(timeoutMs);
    throw error;
  } finally {
    await client.query('RESET lock_timeout');
  }
}

/**
 * One migration and its `_prisma_migrations` row in one transaction: a failure leaves neither, so
 * the database is exactly as before and the next start retries it. (Prisma runs migrations outside
 * a transaction and keeps a row with `finished_at` NULL on failure; we never need that state.)
 */
async function applyMigration(client: pg.Client, migration: Migration): Promise<void> {
  const id = randomUUID();
  await client.query('BEGIN');
  try {
    await client.query(
      'INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, clock_timestamp())',
      [id, migration.checksum, migration.name],
    );
    await client.query(migration.sql);
    await client.query(
      'UPDATE _prisma_migrations SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1',
      [id],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new MigrationFailedError(migration.name, error);
  }
}

import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { sessionConfig } from './connection';
import { loadMigrations, migrate } from './migrate';

// Test databases on a real PostgreSQL: one template per migrations version, migrated once, and a
// cheap clone of it (CREATE DATABASE … TEMPLATE) for every suite. Nothing here is for production.

/** Admin connection used to create and drop test databases. */
export const TEST_ADMIN_URL_DEFAULT = 'postgresql://postgres@127.0.0.1:5432/postgres';

/** Env: the template database name, set by the jest global setup and read by test workers. */
export const TEMPLATE_DB_ENV = 'SSOT_TEST_TEMPLATE_DB';

/** Env: this test run's id; every database the run creates carries it, so teardown finds them. */
export const TEST_RUN_ENV = 'SSOT_TEST_RUN_ID';

/** Prefix of every database `createTestDatabase` makes. */
export const TEST_DATABASE_PREFIX = 'ssot_t_';

const TEMPLATE_PREFIX = 'ssot_template_';
const TEMPLATE_LOCK_KEY = 0x55_50_71_71; // arbitrary, unique to this helper
const INVALID_CATALOG_NAME = '3D000';

export interface TestDatabase {
  /** Connection URL of the new database (the admin URL with its database name replaced). */
  url: string;
  name: string;
  /** Drops the database, ending any sessions still connected to it. */
  drop(): Promise<void>;
}

/** `TEST_DATABASE_URL`, or the local PostgreSQL as `postgres`. */
export function testAdminUrl(): string {
  return process.env.TEST_DATABASE_URL ?? TEST_ADMIN_URL_DEFAULT;
}

/** This run's id: the global setup's, or one made for this process when a file runs alone. */
export function testRunId(): string {
  const existing = process.env[TEST_RUN_ENV];
  if (existing) return existing;
  const created = randomBytes(3).toString('hex');
  process.env[TEST_RUN_ENV] = created;
  return created;
}

/** `serverUrl` (any database on a server) pointing at database `name` on the same server instead. */
export function withDatabaseName(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * `ssot_template_<hash>`: the hash covers every migration's name and SQL, so editing a migration
 * yields a new template instead of reusing a stale one.
 */
export function templateDatabaseName(migrationsDir?: string): string {
  const hash = createHash('sha256');
  for (const migration of loadMigrations(migrationsDir)) hash.update(`${migration.name}\n${migration.sql}\n`);
  return `${TEMPLATE_PREFIX}${hash.digest('hex').slice(0, 12)}`;
}

/**
 * Makes sure the migrated template exists and returns its name (also stored in
 * `SSOT_TEST_TEMPLATE_DB`). Concurrent callers, even from separate test runs, build it once: they
 * queue on an advisory lock, and the template only appears under its final name once it is
 * complete (built under another name, then renamed), so a crash never leaves a half-built one.
 */
export async function ensureTemplateDatabase(adminUrl: string = testAdminUrl()): Promise<string> {
  const name = templateDatabaseName();
  await withAdmin(adminUrl, async (admin) => {
    if (await databaseExists(admin, name)) return;
    await admin.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK_KEY]);
    try {
      if (await databaseExists(admin, name)) return;
      const building = `${name}_build`;
      await admin.query(`DROP DATABASE IF EXISTS ${quote(building)} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${quote(building)}`);
      await migrate(withDatabaseName(adminUrl, building));
      await admin.query(`ALTER DATABASE ${quote(building)} RENAME TO ${quote(name)}`);
      // A session connected to a template makes every clone of it fail, so none are allowed.
      await admin.query(`ALTER DATABASE ${quote(name)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
    } finally {
      await admin.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK_KEY]);
    }
  });
  process.env[TEMPLATE_DB_ENV] = name;
  return name;
}

export interface CreateTestDatabaseOptions {
  /**
   * Create the database bare (from `template0`: no tables, not migrated) instead of cloning the
   * migrated template; for tests of the migrations themselves.
   * @default false
   */
  bare?: boolean;
}

/**
 * A fresh database for one suite, named `ssot_t_<run id>_<prefix>_<random>`: a clone of the
 * migrated template (all tables, no rows), or a bare one. Works without the global setup too (a
 * single test file run): the template is then found or built here.
 *
 * @param prefix a few characters naming the suite, to recognise the database in `\l`
 */
export async function createTestDatabase(
  prefix = 'db',
  options: CreateTestDatabaseOptions = {},
): Promise<TestDatabase> {
  const adminUrl = testAdminUrl();
  const label = prefix.toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 20);
  const name = `${TEST_DATABASE_PREFIX}${testRunId()}_${label}_${randomBytes(4).toString('hex')}`;
  const template = options.bare
    ? 'template0'
    : (process.env[TEMPLATE_DB_ENV] ?? (await ensureTemplateDatabase(adminUrl)));

  await withAdmin(adminUrl, async (admin) => {
    try {
      await admin.query(`CREATE DATABASE ${quote(name)} TEMPLATE ${quote(template)}`);
    } catch (error) {
      // The template named in the environment is gone (dropped by hand): build it and retry once.
      if (options.bare || (error as { code?: string }).code !== INVALID_CATALOG_NAME) throw error;
      const rebuilt = await ensureTemplateDatabase(adminUrl);
      await admin.query(`CREATE DATABASE ${quote(name)} TEMPLATE ${quote(rebuilt)}`);
    }
  });

  const drop = async () => {
    await withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${quote(name)} WITH (FORCE)`));
  };
  return { url: withDatabaseName(adminUrl, name), name, drop };
}

/** Drops every database made by test run `runId`; returns their names. The template stays. */
export async function dropTestDatabases(
  runId: string = testRunId(),
  adminUrl: string = testAdminUrl(),
): Promise<string[]> {
  return withAdmin(adminUrl, async (admin) => {
    // starts_with, not LIKE: `_` in the prefix would be a wildcard.
    const { rows } = await admin.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname',
      [`${TEST_DATABASE_PREFIX}${runId}_`],
    );
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${quote(datname)} WITH (FORCE)`);
    return rows.map((row) => row.datname);
  });
}

/**
 * Drops the templates of other migration versions (left by earlier runs) and returns their names.
 * Without FORCE: a template another run is cloning right now stays, and goes next time.
 */
export async function dropStaleTemplates(adminUrl: string = testAdminUrl()): Promise<string[]> {
  const current = templateDatabaseName();
  return withAdmin(adminUrl, async (admin) => {
    const { rows } = await admin.query<{ datname: string }>(
      // Finished templates only: a `…_build` database may be another run's template in the making.
      "SELECT datname FROM pg_database WHERE datname ~ ('^' || $1 || '[0-9a-f]{12}$') AND datname <> $2",
      [TEMPLATE_PREFIX, current],
    );
    const dropped: string[] = [];
    for (const { datname } of rows) {
      try {
        await admin.query(`ALTER DATABASE ${quote(datname)} WITH IS_TEMPLATE false`);
        await admin.query(`DROP DATABASE ${quote(datname)}`);
        dropped.push(datname);
      } catch {
        // In use, or already gone: neither is a reason to fail a test run.
      }
    }
    return dropped;
  });
}

async function withAdmin<T>(adminUrl: string, work: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client(sessionConfig(adminUrl, 'agentos-tests'));
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

async function databaseExists(admin: pg.Client, name: string): Promise<boolean> {
  const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return rowCount === 1;
}

/** Names here are generated from [a-z0-9_], but quoting keeps that an assumption rather than a risk. */
function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

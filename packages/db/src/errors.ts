/**
 * Every error this package throws on purpose. Each kind is one small class with a stable `code`,
 * so callers branch on `err.code` rather than on message text.
 */
export abstract class DbError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The migrations directory is missing or holds no migration. */
export class MigrationsNotFoundError extends DbError {
  readonly code = 'MIGRATIONS_NOT_FOUND';

  constructor(readonly directory: string) {
    super(`no migrations found in ${directory}`);
  }
}

/** One migration's SQL failed; its transaction was rolled back, so nothing of it was kept. */
export class MigrationFailedError extends DbError {
  readonly code = 'MIGRATION_FAILED';

  constructor(
    readonly migration: string,
    cause: unknown,
  ) {
    super(`migration ${migration} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * `_prisma_migrations` records a migration that started and never finished (left by `prisma migrate
 * deploy`, which does not run migrations in a transaction). The database may be half-migrated, so
 * nothing more is applied until an operator resolves it (`prisma migrate resolve`).
 */
export class UnfinishedMigrationError extends DbError {
  readonly code = 'MIGRATION_UNFINISHED';

  constructor(readonly migrations: readonly string[]) {
    super(
      `migrations started but never finished: ${migrations.join(', ')}; resolve them with ` +
        '`prisma migrate resolve` before migrating again',
    );
  }
}

/** Another process held the migration lock for longer than `lockTimeoutMs`. */
export class MigrationLockTimeoutError extends DbError {
  readonly code = 'MIGRATION_LOCK_TIMEOUT';

  constructor(readonly timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms waiting for another process to finish migrating`);
  }
}

/** The database has no `jobs` table: it must be migrated (`migrate()`, `npm run migrate`) first. */
export class DatabaseNotMigratedError extends DbError {
  readonly code = 'DATABASE_NOT_MIGRATED';

  constructor() {
    super('the database is not migrated (no jobs table); run the migrations first');
  }
}

/** Seed options out of range; `problems` lists every one of them. */
export class InvalidSeedOptionsError extends DbError {
  readonly code = 'INVALID_SEED_OPTIONS';

  constructor(readonly problems: readonly string[]) {
    super(`invalid seed options: ${problems.join('; ')}`);
  }
}

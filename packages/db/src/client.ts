import { createHash } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { DEFAULT_CONNECTION_TIMEOUT_MS } from './connection';
import { PrismaClient } from './generated/prisma/client';

export interface CreatePrismaClientOptions {
  /**
   * Most connections the client's pool opens to PostgreSQL.
   * @default 10
   */
  poolMax?: number;
  /**
   * Server-side limit on any one statement; a statement past it fails with
   * `canceling statement due to statement timeout` instead of holding a connection. 0 disables it.
   * @default 5000
   */
  statementTimeoutMs?: number;
  /**
   * How long to wait for a new connection (TCP, TLS and the PostgreSQL handshake) before failing,
   * so that a dead database surfaces as an error within this time rather than as a hang.
   * @default 2000
   */
  connectionTimeoutMs?: number;
  /**
   * How long an unused pooled connection stays open.
   * @default 30000
   */
  idleTimeoutMs?: number;
  /**
   * `application_name` of the sessions, shown in `pg_stat_activity`.
   * @default 'agentos'
   */
  applicationName?: string;
  /**
   * Called with errors of idle pooled connections (the database restarted, the network dropped).
   * The pool replaces such connections by itself; without a handler the error is dropped.
   */
  onPoolError?: (error: Error) => void;
  /**
   * `query` runs its statements prepared (named). Off: unnamed, parsed and planned on every call,
   * for connections that are not a server session each (PGlite's socket, a transaction pooler).
   * @default true
   */
  preparedStatements?: boolean;
}

/**
 * One statement of the hot path, run as a named prepared statement: parsed and planned by
 * PostgreSQL once per connection instead of on every call. Same call shape as Prisma's
 * `$queryRawUnsafe` (`$1`… placeholders), rows as node-postgres returns them: `json` and `jsonb`
 * parsed, `int4` numbers, `int8` and `numeric` strings, timestamps `Date`s.
 */
export type PreparedQuery = <T = Record<string, unknown>>(text: string, ...values: unknown[]) => Promise<T[]>;

/** The system of record: the Prisma client and, over the same pool, prepared raw statements. */
export interface Database {
  prisma: PrismaClient;
  query: PreparedQuery;
}

/**
 * Distinct statement texts a pool prepares; past it a text runs unprepared. Each one costs every
 * connection its plan: the hot path has a dozen, so this only bounds a caller that builds texts
 * with values in them by mistake.
 */
export const MAX_PREPARED_STATEMENTS = 100;

/**
 * `PreparedQuery` over `pool`. A statement's name is a digest of its text, so the same text is
 * prepared once on each connection whichever caller runs it. The planning it saves is most of the
 * cost of the collector's section reads (`npm run bench:sections`: PostgreSQL CPU per build
 * 10.2 → 6.2–7.1 ms).
 */
export function preparedQuery(pool: pg.Pool, options: { prepared?: boolean } = {}): PreparedQuery {
  const prepared = options.prepared ?? true;
  const names = new Map<string, string>();
  return async <T>(text: string, ...values: unknown[]): Promise<T[]> => {
    let name = names.get(text);
    if (prepared && name === undefined && names.size < MAX_PREPARED_STATEMENTS) {
      name = `ssot_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
      names.set(text, name);
    }
    const result = await pool.query(name === undefined ? { text, values } : { name, text, values });
    return result.rows as T[];
  };
}

/**
 * The system of record, talking to PostgreSQL through node-postgres: a Prisma client
 * (`@prisma/adapter-pg`) and prepared raw statements sharing one pool. The caller owns it:
 * `await prisma.$disconnect()` closes the pool.
 */
export function createDatabase(databaseUrl: string, options: CreatePrismaClientOptions = {}): Database {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.poolMax ?? 10,
    statement_timeout: options.statementTimeoutMs ?? 5_000,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
    application_name: options.applicationName ?? 'agentos',
    // Without keepalive a connection whose peer vanished (failover, cable) hangs until the OS
    // gives up, minutes later; with it the pool notices and replaces it.
    keepAlive: true,
  });
  // Listened to from the start: an idle connection's error with no listener would end the
  // process, and the adapter only listens once Prisma connects, at its first query.
  const onPoolError = options.onPoolError;
  pool.on('error', (error) => onPoolError?.(error));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
  return { prisma, query: preparedQuery(pool, { prepared: options.preparedStatements }) };
}

/**
 * A Prisma client for the system of record (`createDatabase` without the prepared statements).
 * The caller owns it: `await client.$disconnect()` closes its pool.
 */
export function createPrismaClient(databaseUrl: string, options: CreatePrismaClientOptions = {}): PrismaClient {
  return createDatabase(databaseUrl, options).prisma;
}

/** One `SELECT 1` round trip, ms: readiness checks and the services' heartbeats report it. */
export async function databaseRoundTripMs(prisma: PrismaClient): Promise<number> {
  const started = performance.now();
  await prisma.$queryRaw`SELECT 1`;
  return Math.round((performance.now() - started) * 100) / 100;
}

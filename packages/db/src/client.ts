import { PrismaPg } from '@prisma/adapter-pg';
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
}

/**
 * A Prisma client for the system of record, talking to PostgreSQL through node-postgres
 * (`@prisma/adapter-pg`). The caller owns it: `await client.$disconnect()` closes its pool.
 */
export function createPrismaClient(databaseUrl: string, options: CreatePrismaClientOptions = {}): PrismaClient {
  const adapter = new PrismaPg(
    {
      connectionString: databaseUrl,
      max: options.poolMax ?? 10,
      statement_timeout: options.statementTimeoutMs ?? 5_000,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
      idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
      application_name: options.applicationName ?? 'agentos',
      // Without keepalive a connection whose peer vanished (failover, cable) hangs until the OS
      // gives up, minutes later; with it the pool notices and replaces it.
      keepAlive: true,
    },
    options.onPoolError ? { onPoolError: options.onPoolError } : undefined,
  );
  return new PrismaClient({ adapter });
}

/** One `SELECT 1` round trip, ms: readiness checks and the services' heartbeats report it. */
export async function databaseRoundTripMs(prisma: PrismaClient): Promise<number> {
  const started = performance.now();
  await prisma.$queryRaw`SELECT 1`;
  return Math.round((performance.now() - started) * 100) / 100;
}

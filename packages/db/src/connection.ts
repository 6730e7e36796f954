import type { ClientConfig } from 'pg';

/** Receives one human-readable progress line at a time (migrations applied, seeding steps). */
export type Log = (message: string) => void;

export const silent: Log = () => {};

/**
 * How long to wait for a TCP connection and the PostgreSQL handshake. Short on purpose: callers
 * (the collector, readiness probes) must learn quickly that the database is gone rather than
 * queue behind a dead host.
 */
export const DEFAULT_CONNECTION_TIMEOUT_MS = 2_000;

/** Connection settings for the one-off sessions this package opens itself (migrate, seed, tests). */
export function sessionConfig(databaseUrl: string, applicationName: string): ClientConfig {
  return {
    connectionString: databaseUrl,
    connectionTimeoutMillis: DEFAULT_CONNECTION_TIMEOUT_MS,
    application_name: applicationName,
    keepAlive: true,
  };
}

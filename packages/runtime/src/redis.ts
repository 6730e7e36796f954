import Redis, { type RedisOptions } from 'ioredis';
import { withTimeout } from './timeout';

export type { Redis } from 'ioredis';

/**
 * Why a connection exists decides how it behaves when Redis is slow or gone:
 * - `command`: request/response. Commands fail after a bounded number of reconnect attempts
 *   instead of queueing forever, so a request handler can fall back (last-good snapshot).
 * - `subscriber`: pub/sub only. ioredis re-subscribes on reconnect by itself.
 * - `blocking`: XREADGROUP BLOCK and the like, on a connection of their own so they never hold up
 *   other commands. Callers keep BLOCK short and watch for hangs (ioredis re-sends blocking
 *   commands on reconnect: ioredis#1285).
 */
export type RedisRole = 'command' | 'subscriber' | 'blocking';

export interface RedisConnectionOptions {
  /** Shown in `CLIENT LIST`, e.g. `api:command`. */
  name: string;
  role: RedisRole;
  /** @default 2000 */
  connectTimeoutMs?: number;
}

export function createRedis(url: string, options: RedisConnectionOptions): Redis {
  const base: RedisOptions = {
    connectionName: options.name.replace(/\s+/g, '-'),
    connectTimeout: options.connectTimeoutMs ?? 2000,
    // Reconnect for ever, but never wait more than 2 s between attempts.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    lazyConnect: false,
  };
  const byRole: Record<RedisRole, RedisOptions> = {
    // Commands issued in the same tick (a batch's live state, threshold check, refresh request,
    // broadcasts) go out in one write: socket writes dominate the services' CPU here.
    command: { maxRetriesPerRequest: 2, enableOfflineQueue: true, enableAutoPipelining: true },
    subscriber: { maxRetriesPerRequest: null, enableOfflineQueue: true },
    blocking: { maxRetriesPerRequest: 1, enableOfflineQueue: false },
  };
  const client = new Redis(url, { ...base, ...byRole[options.role] });
  // An 'error' event without a listener would crash the process; the connection retries itself.
  client.on('error', () => {});
  return client;
}

/** Resolves once the client is ready or rejects after `timeoutMs`. */
export async function waitForRedis(client: Redis, timeoutMs = 5000): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms (status ${client.status})`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
    };
    client.on('ready', onReady);
  });
}

/** QUIT politely, but never hang a shutdown on a dead connection. */
export async function closeRedis(...clients: Redis[]): Promise<void> {
  await Promise.all(
    clients.map(async (client) => {
      if (client.status === 'end') return;
      await withTimeout(client.quit(), 500, 'QUIT').catch(() => {
        /* already closing, or Redis away: disconnect below */
      });
      client.disconnect();
    }),
  );
}

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
 *
 * Silent faults. A Redis that stops answering without closing the connection (a blackholed
 * network, a half-dead TCP peer) would leave a command waiting for ever: command connections give
 * each command `commandTimeoutMs`, and every role drops a connection that receives nothing for a
 * while after writing (`socketTimeout`) and dials again. After a failover the old primary answers
 * writes with READONLY: the connection is dropped and redialled (DNS or Sentinel then lead to the
 * new primary) and the command sent again.
 */
export type RedisRole = 'command' | 'subscriber' | 'blocking';

export interface RedisConnectionOptions {
  /** Shown in `CLIENT LIST`, e.g. `api:command`. */
  name: string;
  role: RedisRole;
  /** @default 2000 */
  connectTimeoutMs?: number;
  /** Longest wait for one command's answer on a `command` connection. @default 1000 */
  commandTimeoutMs?: number;
}

/** Reconnect and resend on READONLY (a replica promoted away from under us); other errors are the caller's. */
function reconnectOnReadonly(error: Error): 2 | false {
  return error.message.startsWith('READONLY') ? 2 : false;
}

/**
 * `REDIS_URL` as connection options. Besides `redis://` and `rediss://` (one server), a Sentinel
 * deployment is named `redis+sentinel://[user:password@]host:port[,host:port…]/master[/db]`
 * (`rediss+sentinel://` for TLS to the data nodes): ioredis asks the sentinels for the current
 * primary at every (re)connect, so after a failover the READONLY reconnect below lands on the new
 * one. The password is the data nodes'; `SENTINEL_PASSWORD`-style auth to the sentinels themselves
 * is `sentinelPassword` in the query (`?sentinelPassword=…`).
 */
export function redisConnectionOptions(url: string): { url?: string; options: RedisOptions } {
  const sentinel = /^(rediss?)\+sentinel:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?]+)\/([^/?]+)(?:\/(\d+))?(?:\?(.*))?$/.exec(url);
  if (!sentinel) return { url, options: {} };
  const [, scheme, username, password, hosts, name, db, query] = sentinel;
  const params = new URLSearchParams(query ?? '');
  return {
    options: {
      sentinels: hosts!.split(',').map((hostPort) => {
        const at = hostPort.lastIndexOf(':');
        return at > 0 ? { host: hostPort.slice(0, at), port: Number(hostPort.slice(at + 1)) } : { host: hostPort, port: 26379 };
      }),
      name: decodeURIComponent(name!),
      ...(username ? { username: decodeURIComponent(username) } : {}),
      ...(password ? { password: decodeURIComponent(password) } : {}),
      ...(db ? { db: Number(db) } : {}),
      ...(params.get('sentinelPassword') ? { sentinelPassword: params.get('sentinelPassword')! } : {}),
      ...(scheme === 'rediss' ? { tls: {} } : {}),
    },
  };
}

/** Whether `url` is a `REDIS_URL` this module connects to (see `redisConnectionOptions`). */
export function isRedisUrl(url: string): boolean {
  if (/^rediss?\+sentinel:\/\//.test(url)) return redisConnectionOptions(url).url === undefined;
  try {
    return /^rediss?:$/.test(new URL(url).protocol);
  } catch {
    return false;
  }
}

export function createRedis(url: string, options: RedisConnectionOptions): Redis {
  const commandTimeout = options.commandTimeoutMs ?? 1000;
  const base: RedisOptions = {
    connectionName: options.name.replace(/\s+/g, '-'),
    connectTimeout: options.connectTimeoutMs ?? 2000,
    // Reconnect for ever, but never wait more than 2 s between attempts.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    reconnectOnError: reconnectOnReadonly,
    lazyConnect: false,
  };
  const byRole: Record<RedisRole, RedisOptions> = {
    // Commands issued in the same tick (a batch's live state, threshold check, refresh request,
    // broadcasts) go out in one write: socket writes dominate the services' CPU here.
    command: {
      maxRetriesPerRequest: 2,
      enableOfflineQueue: true,
      enableAutoPipelining: true,
      commandTimeout,
      socketTimeout: Math.max(3 * commandTimeout, 2000),
    },
    // Its only commands are (un)subscribe and the watchdog's PING: a PING unanswered this long
    // means the subscription is dead too.
    subscriber: { maxRetriesPerRequest: null, enableOfflineQueue: true, commandTimeout, socketTimeout: Math.max(3 * commandTimeout, 2000) },
    // No socketTimeout: a BLOCK legitimately receives nothing for its whole duration. The stream
    // consumer bounds each read itself.
    blocking: { maxRetriesPerRequest: 1, enableOfflineQueue: false },
  };
  const target = redisConnectionOptions(url);
  const settings = { ...target.options, ...base, ...byRole[options.role] };
  const client = target.url ? new Redis(target.url, settings) : new Redis(settings);
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

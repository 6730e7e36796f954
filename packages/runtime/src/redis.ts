import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import { TimeoutError } from './errors';
import { withTimeout } from './timeout';

export type { ChainableCommander, Redis } from 'ioredis';

/**
 * Why a connection exists decides how it behaves when Redis is slow or gone:
 * - `command`: request/response. Commands fail after a bounded number of reconnect attempts
 *   instead of queueing forever, so a request handler can fall back (last-good snapshot).
 * - `subscriber`: pub/sub only. Its subscriptions are restored after a reconnect (`keepSubscriptions`).
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
 *
 * Redis Cluster (`redis+cluster://`): each role is an ioredis `Cluster` of its own (one
 * connection per node it talks to), with the same timeouts; a whole-cluster reconnect follows the
 * same backoff, a lost node is found again through MOVED and a slot refresh. The client is typed
 * `Redis`: both are ioredis commanders with the same command methods, and what differs is handled
 * here — SCAN covers one node only (`scanKeys` visits every master), the subscriptions sit on a
 * connection of their own (`pingConnection`), and the gateway picks its socket.io adapter by
 * `isCluster`. Every key a script or MULTI touches must be in one slot: SSOT_NAMESPACE is then a
 * hash tag (env.ts, keys.ts).
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

/** What a `REDIS_URL` names: one server (`url`), a Sentinel deployment (`options`), or a Cluster's startup nodes. */
export interface RedisTarget {
  /** A `redis://` or `rediss://` URL, read by ioredis itself. */
  url?: string;
  /** Connection options: Sentinel's; on Cluster, every node's (credentials, TLS). */
  options: RedisOptions;
  /** The startup nodes of a Redis Cluster: ioredis learns the others from CLUSTER SLOTS. */
  cluster?: { host: string; port: number }[];
}

const SENTINEL_URL = /^(rediss?)\+sentinel:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?]+)\/([^/?]+)(?:\/(\d+))?(?:\?(.*))?$/;
// No database (Cluster has only db 0) and no query: nothing would be read from one.
const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?@]+)\/?$/;

function hostPorts(list: string, defaultPort: number): { host: string; port: number }[] {
  return list.split(',').map((hostPort) => {
    const at = hostPort.lastIndexOf(':');
    return at > 0 ? { host: hostPort.slice(0, at), port: Number(hostPort.slice(at + 1)) } : { host: hostPort, port: defaultPort };
  });
}

/**
 * `REDIS_URL` as connection options. Besides `redis://` and `rediss://` (one server):
 * - a Sentinel deployment, `redis+sentinel://[user:password@]host:port[,host:port…]/master[/db]`
 *   (`rediss+sentinel://` for TLS to the data nodes): ioredis asks the sentinels for the current
 *   primary at every (re)connect, so after a failover the READONLY reconnect below lands on the
 *   new one. The password is the data nodes'; `SENTINEL_PASSWORD`-style auth to the sentinels
 *   themselves is `sentinelPassword` in the query (`?sentinelPassword=…`).
 * - a Redis Cluster, `redis+cluster://[user:password@]host:port[,host:port…]` (port 6379 when
 *   left out; `rediss+cluster://` for TLS): a few of its nodes, from which ioredis discovers the
 *   rest. The credentials are every node's.
 */
export function redisConnectionOptions(url: string): RedisTarget {
  const cluster = CLUSTER_URL.exec(url);
  if (cluster) {
    const [, scheme, username, password, hosts] = cluster;
    return {
      cluster: hostPorts(hosts!, 6379),
      options: {
        ...(username ? { username: decodeURIComponent(username) } : {}),
        ...(password ? { password: decodeURIComponent(password) } : {}),
        ...(scheme === 'rediss' ? { tls: {} } : {}),
      },
    };
  }
  const sentinel = SENTINEL_URL.exec(url);
  if (!sentinel) return { url, options: {} };
  const [, scheme, username, password, hosts, name, db, query] = sentinel;
  const params = new URLSearchParams(query ?? '');
  return {
    options: {
      sentinels: hostPorts(hosts!, 26379),
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
  if (/^rediss?\+cluster:\/\//.test(url)) {
    const nodes = redisConnectionOptions(url).cluster;
    return nodes !== undefined && nodes.every(({ host, port }) => host !== '' && Number.isInteger(port) && port > 0 && port < 65536);
  }
  if (/^rediss?\+sentinel:\/\//.test(url)) return redisConnectionOptions(url).url === undefined;
  try {
    return /^rediss?:$/.test(new URL(url).protocol);
  } catch {
    return false;
  }
}

/** Whether `url` names a Redis Cluster (`redis+cluster://`, `rediss+cluster://`). */
export function isClusterUrl(url: string): boolean {
  return /^rediss?\+cluster:\/\//.test(url);
}

/** Whether `client` is a Redis Cluster connection (made by `createRedis` from a cluster URL). */
export function isCluster(client: Redis): boolean {
  return (client as unknown as { isCluster?: unknown }).isCluster === true;
}

/**
 * ioredis gives a Cluster's command its `commandTimeout` only once a node's connection takes it:
 * while the cluster is (re)connecting, commands wait in the Cluster's own offline queue with no
 * limit. This one starts the clock when the command is issued, as a single server's connection
 * does, so a command never waits past its timeout on Cluster either.
 */
class TimedCluster extends Cluster {
  constructor(
    nodes: { host: string; port: number }[],
    options: ClusterOptions,
    private readonly commandTimeoutMs: number | undefined,
  ) {
    super(nodes, options);
  }

  override sendCommand(...args: Parameters<Cluster['sendCommand']>): unknown {
    if (this.commandTimeoutMs !== undefined) args[0].setTimeout(this.commandTimeoutMs);
    return super.sendCommand(...args);
  }
}

function createCluster(nodes: { host: string; port: number }[], settings: RedisOptions, role: RedisRole): Redis {
  const { retryStrategy, enableOfflineQueue, enableAutoPipelining, lazyConnect, commandTimeout, ...nodeOptions } = settings;
  const cluster = new TimedCluster(
    nodes,
    {
      // Every node lost (the cluster's 'close'): reconnect as one server would. A single lost
      // node is not redialled; ioredis finds its slots' new owner through MOVED and a refresh.
      clusterRetryStrategy: retryStrategy,
      enableOfflineQueue,
      enableAutoPipelining,
      lazyConnect,
      // SSUBSCRIBE goes to the shard of its channel (the sharded socket.io adapter). Its
      // connections are made on the first SSUBSCRIBE only: nothing more for other subscribers.
      shardedSubscribers: role === 'subscriber',
      redisOptions: { ...nodeOptions, ...(commandTimeout === undefined ? {} : { commandTimeout }) },
      // TLS names the node it checks the certificate of: keep the host names (ioredis would
      // resolve them to addresses first, which no certificate names).
      ...(nodeOptions.tls ? { dnsLookup: (address: string, callback: (error: null, address: string) => void) => callback(null, address) } : {}),
    },
    commandTimeout,
  );
  return cluster as unknown as Redis;
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
  // One server's subscriptions are restored after a reconnect by keepSubscriptions, not by ioredis.
  const ownResubscribe = options.role === 'subscriber' && !target.cluster;
  const settings = { ...target.options, ...base, ...byRole[options.role], ...(ownResubscribe ? { autoResubscribe: false } : {}) };
  const client = target.cluster ? createCluster(target.cluster, settings, options.role) : target.url ? new Redis(target.url, settings) : new Redis(settings);
  // An 'error' event without a listener would crash the process; the connection retries itself.
  client.on('error', () => {});
  if (ownResubscribe) keepSubscriptions(client);
  return client;
}

/**
 * A subscriber connection's subscriptions, restored by this module after every reconnect rather
 * than by ioredis's `autoResubscribe`, which has two faults (ioredis 5.11):
 * - its SUBSCRIBE after a reconnect has no handler (ioredis#2187, fixed in 6): one refused
 *   (NOPERM, the user's channels changed) or unanswered within the command timeout (a loaded
 *   Redis, or a loaded process: a CI run's) is an unhandled rejection, which fails whatever test
 *   is running and, without the services' process handler, would end the process;
 * - it learns the subscriptions from Redis's replies, so a connection that drops again before the
 *   re-SUBSCRIBE is answered (a flapping network, a failover's second hop) forgets them: from the
 *   next reconnect on, the connection is up, answers PING, and receives nothing — a gateway that
 *   silently stops fanning out.
 * Here the channels are what the callers asked for (subscribe minus unsubscribe, by kind); after
 * each reconnect all are subscribed again, and a failure is reported as the client's 'error'
 * (a timeout still takes effect if Redis answers later; a dropped connection tries again at the
 * next one). Callers' own calls return ioredis's promises unchanged. A Cluster's per-node
 * connections are its own and keep ioredis's behaviour.
 */
const SUBSCRIBE_KINDS = { subscribe: 'unsubscribe', psubscribe: 'punsubscribe', ssubscribe: 'sunsubscribe' } as const;
type SubscribeKind = keyof typeof SUBSCRIBE_KINDS;

function keepSubscriptions(client: Redis): void {
  const channels: Record<SubscribeKind, Set<string>> = { subscribe: new Set(), psubscribe: new Set(), ssubscribe: new Set() };
  const methods = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = {} as Record<SubscribeKind, (...args: unknown[]) => Promise<unknown>>;
  const namesIn = (args: unknown[]) => args.flat().filter((a) => typeof a === 'string' || Buffer.isBuffer(a)).map(String);
  const report = (answer: Promise<unknown>) => {
    answer.catch((error: unknown) => client.emit('error', error));
    return answer;
  };
  const define = (name: string, value: (this: Redis, ...args: unknown[]) => Promise<unknown>) =>
    Object.defineProperty(client, name, { configurable: true, writable: true, value });
  for (const [kind, undo] of Object.entries(SUBSCRIBE_KINDS) as [SubscribeKind, (typeof SUBSCRIBE_KINDS)[SubscribeKind]][]) {
    const subscribe = methods[kind]!;
    const unsubscribe = methods[undo]!;
    original[kind] = subscribe;
    define(kind, function (...args) {
      for (const name of namesIn(args)) channels[kind].add(name);
      return report(subscribe.apply(this, args));
    });
    define(undo, function (...args) {
      const names = namesIn(args);
      // Without arguments: every channel of this kind.
      if (names.length === 0) channels[kind].clear();
      for (const name of names) channels[kind].delete(name);
      return report(unsubscribe.apply(this, args));
    });
  }
  let connectedBefore = false;
  client.on('ready', () => {
    // The first 'ready' finds the callers' own calls in the offline queue: nothing to restore.
    if (!connectedBefore) return void (connectedBefore = true);
    for (const kind of Object.keys(channels) as SubscribeKind[]) {
      const names = [...channels[kind]];
      if (names.length === 0) continue;
      // SSUBSCRIBE takes the channels of one slot at a time; on a single server any one does.
      if (kind === 'ssubscribe') for (const name of names) report(original[kind].call(client, name));
      else report(original[kind].call(client, names));
    }
  });
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

/**
 * Every key matching `pattern`, in batches, by SCAN (never KEYS). On Cluster a SCAN covers the one
 * node it is sent to: each master is scanned in turn.
 */
export async function* scanKeys(client: Redis, pattern: string, count = 1000): AsyncGenerator<string[]> {
  if (client.status !== 'ready') await waitForRedis(client);
  const servers = isCluster(client) ? (client as unknown as Cluster).nodes('master') : [client];
  for (const server of servers) {
    let cursor = '0';
    do {
      const [next, keys] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      if (keys.length > 0) yield keys;
    } while (cursor !== '0');
  }
}

/**
 * PINGs the connection that `client`'s work goes over (the services' liveness probe). That is the
 * client itself, except for a subscriber on Cluster: its subscriptions are on one connection that
 * ioredis keeps apart, on a node it picks, which neither the Cluster's PING (sent to any node) nor
 * `socketTimeout` reaches. There the PING goes over that connection, and one unanswered for as long
 * as `socketTimeout` would wait drops it: ioredis subscribes again on a new one, as a single
 * server's subscriber is redialled.
 */
export function pingConnection(client: Redis, role: RedisRole, commandTimeoutMs = 1000): Promise<unknown> {
  const subscription = role === 'subscriber' && isCluster(client) ? clusterSubscription(client) : null;
  if (!subscription) return client.ping();
  return withTimeout(subscription.ping(), Math.max(3 * commandTimeoutMs, 2000), 'PING').catch((error: unknown) => {
    if (error instanceof TimeoutError) subscription.disconnect();
    throw error;
  });
}

/**
 * The connection of a Cluster's SUBSCRIBE/PSUBSCRIBE, or null while it has none: ioredis's
 * ClusterSubscriber is not public, so it is read defensively (an ioredis without it probes the
 * Cluster as before).
 */
function clusterSubscription(client: Redis): Redis | null {
  const subscriber = (client as unknown as { subscriber?: { getInstance?: () => Redis | null } }).subscriber;
  return typeof subscriber?.getInstance === 'function' ? subscriber.getInstance() : null;
}

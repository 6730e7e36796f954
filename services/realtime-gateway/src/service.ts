import type { Server as HttpServer } from 'node:http';
import type { AddressInfo, Socket as NetSocket } from 'node:net';
import {
  authOptions,
  createHttpServer,
  createServiceContext,
  createTokenVerifier,
  healthHandler,
  httpServerOptions,
  isCluster,
  type Logger,
  type Redis,
  VersionWatcher,
  withTimeout,
} from '@agentos/runtime';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import type { Registry } from 'prom-client';
import type { Server } from 'socket.io';
import { startBroadcastRelay } from './broadcast-relay';
import type { GatewayConfig } from './config';
import { createGateway } from './gateway';
import { createGatewayMetrics } from './metrics';
import { watchRedisOutages } from './redis-outage';
import { SnapshotFeed } from './snapshot-feed';

export const SERVICE_NAME = 'realtime-gateway';

export interface GatewayService {
  io: Server;
  /** The HTTP server socket.io is attached to; it also answers /healthz, /readyz and /metrics. */
  server: HttpServer;
  registry: Registry;
  logger: Logger;
  /** The port listened on (the real one when PORT is 0); 0 without `listen`. */
  port: number;
  /** The snapshot messages to this gateway's admin sockets (tests read its version). */
  feed: SnapshotFeed;
  /** Closes every socket (clients reconnect to another replica), then Redis. */
  stop(): Promise<void>;
  /** As a crash would: sockets and Redis connections drop at once, the heartbeat goes stale. */
  kill(): void;
}

/** Wires one gateway process. Tests start several in one process, each with its own Redis connections. */
export async function startGatewayService(
  config: Readonly<GatewayConfig>,
  options: {
    /** Bind `PORT`. @default true */
    listen?: boolean;
    logger?: Logger;
  } = {},
): Promise<GatewayService> {
  const ctx = createServiceContext(SERVICE_NAME, config, options);
  const { logger, keys, registry } = ctx;
  const metrics = createGatewayMetrics(registry);
  const redis = ctx.redis('command');
  const subscriber = ctx.redis('subscriber');

  const verifier = createTokenVerifier(authOptions(config));
  const feed = new SnapshotFeed({
    redis,
    keys,
    logger,
    metrics,
    maxAgeMs: config.SNAPSHOT_MAX_AGE_MS,
    coalesceAt: config.SOCKET_COALESCE_PACKETS,
    maxLagMs: config.INTAKE_MAX_LAG_MS,
  });

  const health = healthHandler({
    registry,
    watchdog: ctx.watchdog,
    readiness: {
      redis: () => redis.ping(),
      // Without its subscription the gateway delivers nothing: take it out of rotation.
      subscriber: async () => {
        if (subscriber.status !== 'ready') throw new Error(`subscriber ${subscriber.status}`);
      },
    },
  });
  const server = createHttpServer((req, res) => {
    health(req, res).then(
      (handled) => {
        if (handled) return;
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":{"code":"not_found","message":"no such path"}}');
      },
      () => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":{"code":"internal","message":"health handler failed"}}');
      },
    );
  }, httpServerOptions(config));
  const connections = new Set<NetSocket>();
  server.on('connection', (socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });

  const adapterError = (error: unknown) => logger.warn({ err: error }, 'socket.io Redis adapter error');
  const [pub, sub] = [handledRejections(redis, adapterError), handledRejections(subscriber, adapterError)];
  const io = createGateway({
    server,
    verifier,
    feed,
    metrics,
    logger,
    // On Cluster a PUBLISH is copied to every node; the sharded adapter's SPUBLISH stays on the
    // shard of its channel (Redis 7). Its channels start with the namespace, so they share the
    // namespace's slot like every other name.
    adapter: isCluster(redis) ? createShardedAdapter(pub, sub, { channelPrefix: keys.socketIo }) : createAdapter(pub, sub, { key: keys.socketIo }),
    corsOrigins: config.CORS_ORIGINS,
    maxBufferedPackets: config.SOCKET_MAX_PACKETS,
    messageRate: config.SOCKET_MESSAGE_RATE,
  });
  // An EventEmitter's 'error' without a listener ends the process (socket.io-redis-adapter#336).
  io.of('/').adapter.on('error', adapterError);

  const watcher = new VersionWatcher(subscriber, keys);
  watcher.on((announcement) => feed.announced(announcement.version, Date.parse(announcement.generated_at)));
  // The collectors' patches, on the connection that hears the announcements: in the order they
  // were published (each patch just before its announcement).
  subscriber.on('message', (channel: string, message: string) => {
    if (channel === keys.patchChannel) feed.patched(message);
  });
  const relay = startBroadcastRelay({ subscriber, keys, io, metrics, logger, maxAgeMs: config.BROADCAST_MAX_AGE_MS });
  await Promise.all([subscriber.subscribe(keys.patchChannel), watcher.start(), relay.start()]);

  const outages = watchRedisOutages(subscriber, {
    logger,
    onRecovered: async () => {
      // 'ready' fires before ioredis re-subscribes. A command on the same connection is answered
      // after those subscriptions, so once it returns, no announcement can fall between them and
      // the snapshot read below.
      await withTimeout(subscriber.subscribe(keys.versionChannel), 2000, 'resubscribe');
      await feed.resyncAll();
      metrics.redisRecoveries.inc();
      logger.info({ version: feed.version, admins: feed.adminCount }, 'Redis is back: every admin was sent the snapshot again');
    },
  });
  const versionWatch = ctx.watchdog.watch('version-check', Math.max(ctx.watchdogTimeoutMs, 3 * config.VERSION_CHECK_MS));
  const versionCheck = setInterval(() => {
    feed.check().then(
      () => versionWatch.progress(),
      (error: unknown) => logger.debug({ err: error }, 'version check failed'),
    );
  }, config.VERSION_CHECK_MS);
  versionCheck.unref();
  ctx.heartbeat(redis);

  let port = 0;
  if (options.listen !== false) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.PORT, () => resolve());
    });
    port = (server.address() as AddressInfo).port;
    logger.info({ port }, 'realtime-gateway listening');
  }

  const halt = () => {
    clearInterval(versionCheck);
    versionWatch.stop();
    outages.stop();
    feed.close();
  };
  return {
    io,
    server,
    registry,
    logger,
    port,
    feed,
    async stop() {
      halt();
      await relay.stop();
      await watcher.stop();
      // Closes every socket without waiting for it to drain, then the HTTP server; connections
      // still open after a grace period (keep-alive, a peer that does not answer) are cut.
      const closed = io.close();
      server.closeIdleConnections();
      await withTimeout(closed, 2000, 'close').catch(() => {
        for (const socket of connections) socket.destroy();
      });
      await ctx.close();
    },
    kill() {
      halt();
      for (const socket of connections) socket.destroy();
      server.close();
      ctx.kill();
    },
  };
}

/**
 * The adapter sends some commands without handling their promises (publish, (p|s)subscribe,
 * (p|s)unsubscribe, spublish). With Redis away one of them rejects, and an unhandled rejection
 * ends a Node process. This view of `client` reports those rejections instead.
 */
function handledRejections(client: Redis, onError: (error: unknown) => void): Redis {
  const guarded = new Set(['publish', 'spublish', 'subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe']);
  return new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (typeof property !== 'string' || !guarded.has(property)) return method.bind(target);
      return (...args: unknown[]) => {
        const result = method.apply(target, args);
        if (result instanceof Promise) result.catch(onError);
        return result;
      };
    },
  });
}

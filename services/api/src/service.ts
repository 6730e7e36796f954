import { createServer, type Server } from 'node:http';
import { redisKeys } from '@agentos/contracts';
import {
  closeRedis,
  createLogger,
  createRedis,
  createTokenVerifier,
  healthHandler,
  instanceId,
  type Logger,
  startServiceHeartbeat,
  VersionWatcher,
} from '@agentos/runtime';
import { Registry } from 'prom-client';
import { createApp } from './app';
import type { ApiConfig } from './config';
import { createApiMetrics } from './metrics';
import { SnapshotStore } from './snapshot-store';

export const SERVICE_NAME = 'api';
export const VERSION = process.env.npm_package_version ?? '0.1.0';

export interface ApiService {
  app: ReturnType<typeof createApp>;
  store: SnapshotStore;
  registry: Registry;
  logger: Logger;
  server?: Server;
  /** Rebuilds this replica asked for (tests count them across replicas). */
  rebuildRequests(): number;
  stop(): Promise<void>;
}

/** Wires one api process. Tests start several as replicas and drive `app` with supertest. */
export async function startApiService(
  config: Readonly<ApiConfig>,
  options: { listen?: boolean; logger?: Logger } = {},
): Promise<ApiService> {
  const instance = instanceId();
  const logger = options.logger ?? createLogger(SERVICE_NAME, config.LOG_LEVEL, instance);
  const keys = redisKeys(config.SSOT_NAMESPACE);
  const registry = new Registry();
  const metrics = createApiMetrics(registry);
  const redis = createRedis(config.REDIS_URL, { name: `${SERVICE_NAME}:command`, role: 'command' });
  const subscriber = createRedis(config.REDIS_URL, { name: `${SERVICE_NAME}:subscriber`, role: 'subscriber' });
  const watcher = new VersionWatcher(subscriber, keys);
  await watcher.start();

  let rebuilds = 0;
  const store = new SnapshotStore({
    redis,
    watcher,
    keys,
    maxAgeMs: config.SNAPSHOT_MAX_AGE_MS,
    rebuildWaitMs: config.REBUILD_WAIT_MS,
    onRead: (source) => metrics.read(source),
    onRebuildRequested: () => {
      rebuilds += 1;
      metrics.rebuildRequests.inc();
    },
  });
  const verifier = createTokenVerifier({
    secret: config.AUTH_JWT_SECRET,
    jwksUrl: config.AUTH_JWKS_URL,
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
  });
  const health = healthHandler({
    registry,
    readiness: {
      redis: () => redis.ping(),
      // The api never opens a database connection (services meet only in Redis); it is ready
      // when it can serve a snapshot, which the collector builds from the database.
      snapshot: async () => {
        if (!(await redis.exists(keys.snapshot, keys.lastGood))) throw new Error('no snapshot yet');
      },
    },
  });
  const app = createApp({ store, verifier, metrics, health, log: (err) => logger.error({ err }, 'unhandled error') });
  const heartbeat = startServiceHeartbeat(redis, keys, { service: SERVICE_NAME, instance, version: VERSION });

  let server: Server | undefined;
  if (options.listen) {
    server = createServer(app);
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(config.PORT, () => resolve());
    });
    logger.info({ port: config.PORT }, 'api listening');
  }

  return {
    app,
    store,
    registry,
    logger,
    server,
    rebuildRequests: () => rebuilds,
    async stop() {
      await heartbeat.stop();
      if (server) {
        server.closeIdleConnections();
        await new Promise((resolve) => server!.close(resolve));
      }
      store.close();
      await watcher.stop();
      await closeRedis(redis, subscriber);
    },
  };
}

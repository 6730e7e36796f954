import type { Server } from 'node:http';
import { createDatabase, databaseRoundTripMs } from '@agentos/db';
import { createServiceContext, httpServerOptions, type Logger, startHealthServer } from '@agentos/runtime';
import type { Registry } from 'prom-client';
import { createCollector } from './collector';
import type { CollectorConfig } from './config';
import { createCollectorMetrics } from './metrics';
import { startRefreshConsumer } from './refresh-consumer';

export const SERVICE_NAME = 'collector';

export interface CollectorService {
  collector: ReturnType<typeof createCollector>;
  registry: Registry;
  logger: Logger;
  server?: Server;
  stop(): Promise<void>;
}

/**
 * Wires one collector process: Redis connections, Prisma, the refresh consumer, heartbeat and
 * (with `listen`) the health server. Tests start several in one process as replicas.
 */
export async function startCollectorService(
  config: Readonly<CollectorConfig>,
  options: { listen?: boolean; logger?: Logger; /** Tests only: see CollectorDeps. */ workersReuseMs?: number } = {},
): Promise<CollectorService> {
  const ctx = createServiceContext(SERVICE_NAME, config, options);
  const { logger, keys, registry } = ctx;
  const metrics = createCollectorMetrics(registry);
  const redis = ctx.redis('command');
  const blocking = ctx.redis('blocking');
  const { prisma, query } = createDatabase(config.DATABASE_URL, {
    poolMax: config.DB_POOL_MAX,
    applicationName: SERVICE_NAME,
    preparedStatements: config.DB_PREPARED_STATEMENTS,
    onPoolError: (err) => logger.warn({ err: err.message }, 'idle database connection failed; the pool replaces it'),
  });

  const collector = createCollector({
    prisma,
    query,
    redis,
    keys,
    logger,
    metrics,
    sectionTimeoutMs: config.SECTION_TIMEOUT_MS,
    workersReuseMs: options.workersReuseMs,
    settings: {
      warmIntervalMs: config.WARM_INTERVAL_MS,
      snapshotTtlS: config.SNAPSHOT_TTL_S,
      heartbeatTtlS: config.HEARTBEAT_TTL_S,
      serviceHeartbeatStaleS: 15,
    },
  });
  const consumer = startRefreshConsumer({ blocking, redis, keys, collector, logger, metrics }, {
    consumer: ctx.instance,
    batch: config.REFRESH_BATCH,
    minIntervalMs: config.REFRESH_MIN_INTERVAL_MS,
    // A build that outlives its section timeouts by far is hung, not slow.
    watch: ctx.watchdog.watch('refresh', Math.max(ctx.watchdogTimeoutMs, 3 * config.SECTION_TIMEOUT_MS)),
  });
  ctx.heartbeat(redis, async () => ({ database_ms: await databaseRoundTripMs(prisma) }));

  let server: Server | undefined;
  if (options.listen) {
    server = await startHealthServer(config.PORT, {
      registry,
      watchdog: ctx.watchdog,
      http: httpServerOptions(config),
      readiness: {
        redis: () => redis.ping(),
        database: () => prisma.$queryRaw`SELECT 1`,
      },
    });
    logger.info({ port: config.PORT }, 'collector ready');
  }

  return {
    collector,
    registry,
    logger,
    server,
    async stop() {
      await consumer.stop();
      if (server) await new Promise((resolve) => server!.close(resolve));
      await ctx.close();
      await prisma.$disconnect();
    },
  };
}

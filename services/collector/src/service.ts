import { redisKeys } from '@agentos/contracts';
import { createPrismaClient } from '@agentos/db';
import {
  closeRedis,
  createLogger,
  createRedis,
  instanceId,
  type Logger,
  startHealthServer,
  startServiceHeartbeat,
} from '@agentos/runtime';
import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import { createCollector } from './collector';
import { type CollectorConfig, HEARTBEAT_TTL_S } from './config';
import { createCollectorMetrics } from './metrics';
import { startRefreshConsumer } from './refresh-consumer';

export const SERVICE_NAME = 'collector';
export const VERSION = process.env.npm_package_version ?? '0.1.0';

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
  options: { listen?: boolean; logger?: Logger } = {},
): Promise<CollectorService> {
  const instance = instanceId();
  const logger = options.logger ?? createLogger(SERVICE_NAME, config.LOG_LEVEL, instance);
  const keys = redisKeys(config.SSOT_NAMESPACE);
  const registry = new Registry();
  const metrics = createCollectorMetrics(registry);
  const redis = createRedis(config.REDIS_URL, { name: `${SERVICE_NAME}:command`, role: 'command' });
  const blocking = createRedis(config.REDIS_URL, { name: `${SERVICE_NAME}:blocking`, role: 'blocking' });
  const prisma = createPrismaClient(config.DATABASE_URL, { poolMax: config.DB_POOL_MAX });

  const collector = createCollector({
    prisma,
    redis,
    keys,
    logger,
    metrics,
    sectionTimeoutMs: config.SECTION_TIMEOUT_MS,
    settings: {
      warmIntervalMs: config.WARM_INTERVAL_MS,
      snapshotTtlS: config.SNAPSHOT_TTL_S,
      heartbeatTtlS: HEARTBEAT_TTL_S,
      serviceHeartbeatStaleS: 15,
    },
  });
  const consumer = startRefreshConsumer({ blocking, redis, keys, collector, logger, metrics }, { consumer: instance });
  const heartbeat = startServiceHeartbeat(redis, keys, { service: SERVICE_NAME, instance, version: VERSION });

  let server: Server | undefined;
  if (options.listen) {
    server = await startHealthServer(config.PORT, {
      registry,
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
      await heartbeat.stop();
      if (server) await new Promise((resolve) => server!.close(resolve));
      await closeRedis(redis, blocking);
      await prisma.$disconnect();
    },
  };
}

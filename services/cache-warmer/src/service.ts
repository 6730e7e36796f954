import type { Server } from 'node:http';
import { redisKeys } from '@agentos/contracts';
import {
  closeRedis,
  createLogger,
  createRedis,
  instanceId,
  type Logger,
  startHealthServer,
  startServiceHeartbeat,
  VersionWatcher,
} from '@agentos/runtime';
import { Registry } from 'prom-client';
import type { WarmerConfig } from './config';
import { createWarmerMetrics } from './metrics';
import { every } from './schedule';
import { createWarmer } from './warmer';

export const SERVICE_NAME = 'cache-warmer';
export const VERSION = process.env.npm_package_version ?? '0.1.0';

export interface WarmerService {
  warmer: ReturnType<typeof createWarmer>;
  registry: Registry;
  logger: Logger;
  server?: Server;
  /** Stops like a crash would: timers and connections go, the lease is left to lapse. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function startWarmerService(
  config: Readonly<WarmerConfig>,
  options: { listen?: boolean; logger?: Logger } = {},
): Promise<WarmerService> {
  const instance = instanceId();
  const logger = options.logger ?? createLogger(SERVICE_NAME, config.LOG_LEVEL, instance);
  const keys = redisKeys(config.SSOT_NAMESPACE);
  const registry = new Registry();
  const metrics = createWarmerMetrics(registry);
  const redis = createRedis(config.REDIS_URL, { name: `${SERVICE_NAME}:command`, role: 'command' });
  const subscriber = createRedis(config.REDIS_URL, { name: `${SERVICE_NAME}:subscriber`, role: 'subscriber' });
  const watcher = new VersionWatcher(subscriber, keys);
  await watcher.start();

  const warmer = createWarmer({ redis, watcher, keys, logger, metrics, instance, intervalMs: config.WARM_INTERVAL_MS });
  const ticks = every(config.WARM_INTERVAL_MS, () => warmer.tick());
  const missingCheck = setInterval(() => void warmer.warmIfMissing().catch(() => {}), config.MISSING_CHECK_MS);
  void warmer.warmIfMissing().catch(() => {});
  const heartbeat = startServiceHeartbeat(redis, keys, { service: SERVICE_NAME, instance, version: VERSION });

  let server: Server | undefined;
  if (options.listen) {
    server = await startHealthServer(config.PORT, { registry, readiness: { redis: () => redis.ping() } });
    logger.info({ port: config.PORT, intervalMs: config.WARM_INTERVAL_MS }, 'cache-warmer ready');
  }

  const halt = async () => {
    ticks.stop();
    clearInterval(missingCheck);
    if (server) await new Promise((resolve) => server!.close(resolve));
  };
  return {
    warmer,
    registry,
    logger,
    server,
    async kill() {
      await halt();
      await watcher.stop();
      redis.disconnect();
      subscriber.disconnect();
    },
    async stop() {
      await halt();
      await warmer.releaseLease().catch(() => {});
      await heartbeat.stop();
      await watcher.stop();
      await closeRedis(redis, subscriber);
    },
  };
}

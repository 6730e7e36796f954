import type { Server } from 'node:http';
import { createServiceContext, httpServerOptions, type Logger, startHealthServer, VersionWatcher } from '@agentos/runtime';
import type { Registry } from 'prom-client';
import type { WarmerConfig } from './config';
import { createWarmerMetrics } from './metrics';
import { startHealthChecks } from './health-check';
import { every } from './schedule';
import { createWarmer } from './warmer';

export const SERVICE_NAME = 'cache-warmer';

export interface WarmerService {
  warmer: ReturnType<typeof createWarmer>;
  healthChecks: ReturnType<typeof startHealthChecks>;
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
  const ctx = createServiceContext(SERVICE_NAME, config, options);
  const { logger, keys, registry } = ctx;
  const metrics = createWarmerMetrics(registry);
  const redis = ctx.redis('command');
  const watcher = new VersionWatcher(ctx.redis('subscriber'), keys);
  await watcher.start();

  const warmer = createWarmer({ redis, watcher, keys, logger, metrics, instance: ctx.instance, intervalMs: config.WARM_INTERVAL_MS });
  // A tick that reached Redis is progress whatever the collectors did: a warm that timed out is
  // theirs to answer for (their own watchdogs), and restarting this process would not help.
  const warming = ctx.watchdog.watch('warm', Math.max(ctx.watchdogTimeoutMs, 3 * config.WARM_INTERVAL_MS));
  const ticks = every(config.WARM_INTERVAL_MS, async () => {
    const { result } = await warmer.tick();
    if (result !== 'error') warming.progress();
  });
  const missingCheck = setInterval(() => void warmer.warmIfMissing().catch(() => {}), config.MISSING_CHECK_MS);
  void warmer.warmIfMissing().catch(() => {});
  const healthChecks = startHealthChecks({
    redis,
    keys,
    logger,
    instance: ctx.instance,
    intervalMs: config.HEALTH_CHECK_INTERVAL_MS,
    streamMaxLen: config.EVENT_STREAM_MAXLEN,
    watch: ctx.watchdog.watch('health-check', Math.max(ctx.watchdogTimeoutMs, 3 * config.HEALTH_CHECK_INTERVAL_MS)),
  });
  ctx.heartbeat(redis);

  let server: Server | undefined;
  if (options.listen) {
    server = await startHealthServer(config.PORT, { registry, watchdog: ctx.watchdog, http: httpServerOptions(config), readiness: { redis: () => redis.ping() } });
    logger.info({ port: config.PORT, intervalMs: config.WARM_INTERVAL_MS }, 'cache-warmer ready');
  }

  const halt = async () => {
    ticks.stop();
    warming.stop();
    clearInterval(missingCheck);
    healthChecks.halt();
    if (server) await new Promise((resolve) => server!.close(resolve));
  };
  return {
    warmer,
    healthChecks,
    registry,
    logger,
    server,
    async kill() {
      await halt();
      ctx.kill();
    },
    async stop() {
      await halt();
      await warmer.releaseLease().catch(() => {});
      await healthChecks.stop();
      await watcher.stop();
      await ctx.close();
    },
  };
}

import type { Server } from 'node:http';
import { DISPATCHER_GROUP } from '@agentos/contracts';
import { createDatabase, databaseRoundTripMs } from '@agentos/db';
import { createServiceContext, httpServerOptions, type Logger, startHealthServer, startStreamConsumer } from '@agentos/runtime';
import type { Registry } from 'prom-client';
import type { DispatcherConfig } from './config';
import { startAlertDelivery } from './actions/alert-ops';
import { createDispatcher } from './dispatch';
import { startHeartbeatSweeper } from './heartbeat-sweeper';
import { createDispatcherMetrics } from './metrics';

export const SERVICE_NAME = 'dispatcher';

export interface DispatcherService {
  registry: Registry;
  logger: Logger;
  server?: Server;
  sweeper: ReturnType<typeof startHeartbeatSweeper>;
  stop(): Promise<void>;
}

/** Wires one dispatcher process: the event consumer, the heartbeat sweeper, health and metrics. */
export async function startDispatcherService(
  config: Readonly<DispatcherConfig>,
  options: { listen?: boolean; logger?: Logger } = {},
): Promise<DispatcherService> {
  const ctx = createServiceContext(SERVICE_NAME, config, options);
  const { logger, keys, registry } = ctx;
  const redis = ctx.redis('command');
  const blocking = ctx.redis('blocking');
  const metrics = createDispatcherMetrics(registry, redis, keys);
  const { prisma, query } = createDatabase(config.DATABASE_URL, {
    poolMax: config.DB_POOL_MAX,
    applicationName: SERVICE_NAME,
    preparedStatements: config.DB_PREPARED_STATEMENTS,
    onPoolError: (err) => logger.warn({ err: err.message }, 'idle database connection failed; the pool replaces it'),
  });

  const dispatcher = createDispatcher({
    prisma,
    query,
    redis,
    keys,
    logger,
    metrics,
    heartbeatTtlS: config.HEARTBEAT_TTL_S,
    maxDeliveries: config.MAX_DELIVERIES,
    retryBaseMs: config.RETRY_BASE_MS,
    scaling: { targetDrainMin: config.SCALING_TARGET_DRAIN_MIN, maxWorkers: config.SCALING_MAX_WORKERS },
    alertWebhookUrl: config.ALERT_WEBHOOK_URL,
    onAlerts: () => delivery?.wake(),
    streamMaxLen: config.EVENT_STREAM_MAXLEN,
  });
  // alert_ops' webhook posts, off the batch path: their own loop, from the outbox.
  const delivery = config.ALERT_WEBHOOK_URL
    ? startAlertDelivery({
        prisma,
        webhookUrl: config.ALERT_WEBHOOK_URL,
        timeoutMs: config.ALERT_WEBHOOK_TIMEOUT_MS,
        maxAttempts: config.ALERT_MAX_ATTEMPTS,
        retryBaseMs: config.RETRY_BASE_MS,
        logger,
        metrics,
        watch: ctx.watchdog.watch('alert-delivery', Math.max(ctx.watchdogTimeoutMs, 3 * config.ALERT_WEBHOOK_TIMEOUT_MS)),
      })
    : undefined;
  const consumer = startStreamConsumer({
    stream: keys.events,
    group: DISPATCHER_GROUP,
    consumer: ctx.instance,
    blocking,
    redis,
    logger,
    batch: config.EVENT_BATCH,
    minIntervalMs: config.EVENT_MIN_INTERVAL_MS,
    // Paced batches still publish their socket messages as soon as the entries are read.
    onRead: dispatcher.preview,
    claimIdleMs: config.CLAIM_IDLE_MS,
    claimEveryMs: Math.max(250, Math.floor(config.CLAIM_IDLE_MS / 2)),
    handle: dispatcher.handle,
    watch: ctx.watchdog.watch('events', ctx.watchdogTimeoutMs),
  });
  const sweeper = startHeartbeatSweeper({
    redis,
    keys,
    logger,
    instance: ctx.instance,
    heartbeatTtlS: config.HEARTBEAT_TTL_S,
    intervalMs: config.SWEEP_INTERVAL_MS,
    streamMaxLen: config.EVENT_STREAM_MAXLEN,
    watch: ctx.watchdog.watch('sweeper', Math.max(ctx.watchdogTimeoutMs, 3 * config.SWEEP_INTERVAL_MS)),
  });
  ctx.heartbeat(redis, async () => ({ database_ms: await databaseRoundTripMs(prisma) }));

  let server: Server | undefined;
  if (options.listen) {
    server = await startHealthServer(config.PORT, {
      registry,
      watchdog: ctx.watchdog,
      readiness: { redis: () => redis.ping(), database: () => prisma.$queryRaw`SELECT 1` },
      http: httpServerOptions(config),
    });
    logger.info({ port: config.PORT }, 'dispatcher ready');
  }

  return {
    registry,
    logger,
    server,
    sweeper,
    async stop() {
      await consumer.stop();
      await sweeper.stop();
      await delivery?.stop();
      if (server) await new Promise((resolve) => server!.close(resolve));
      await ctx.close();
      await prisma.$disconnect();
    },
  };
}

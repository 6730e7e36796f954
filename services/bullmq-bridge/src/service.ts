import type { Server } from 'node:http';
import { CommandConsumer, EventPublisher } from '@agentos/client';
import { BUILTIN_SOURCE_CAPABILITIES, bullmqBridgeKeys } from '@agentos/contracts';
import { closeRedis, createRedis, createServiceContext, httpServerOptions, type Logger, startHealthServer } from '@agentos/runtime';
import type { Registry } from 'prom-client';
import { BullQueues } from './bull-queues';
import { createCommandHandler } from './commands';
import type { BridgeConfig } from './config';
import { QueueSet, startDiscovery } from './discovery';
import { createHttpFetch } from './http-fetch';
import { createBridgeMetrics } from './metrics';
import { PositionStore } from './positions';
import { startStreamReader } from './stream-reader';
import { startPoller } from './workers';

export const SERVICE_NAME = 'bullmq-bridge';
/** The source of every event this bridge posts, and of the commands it carries out (CONTRACT §5, §8). */
export const SOURCE = 'bullmq';

export interface BridgeService {
  registry: Registry;
  logger: Logger;
  server?: Server;
  queues: QueueSet;
  reader: ReturnType<typeof startStreamReader>;
  poller: ReturnType<typeof startPoller>;
  /** As a crash would: loops and connections go, leases are left to lapse, nothing is flushed. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function startBridgeService(config: Readonly<BridgeConfig>, options: { listen?: boolean; logger?: Logger } = {}): Promise<BridgeService> {
  const ctx = createServiceContext(SERVICE_NAME, config, options);
  const { logger, registry, watchdog } = ctx;
  const metrics = createBridgeMetrics(registry);
  const redis = ctx.redis('command');
  const bull = createRedis(config.BULLMQ_REDIS_URL, { name: `${SERVICE_NAME}:bullmq`, role: 'command', commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS });
  const bullBlocking = createRedis(config.BULLMQ_REDIS_URL, { name: `${SERVICE_NAME}:bullmq-read`, role: 'blocking' });
  const keys = bullmqBridgeKeys(config.SSOT_NAMESPACE, config.BULLMQ_PREFIX);
  const discover = config.BULLMQ_QUEUES.length === 0;
  const queues = new QueueSet(config.BULLMQ_QUEUES, logger);
  const bullQueues = new BullQueues(bull, config.BULLMQ_PREFIX);
  const newPublisher = (flushIntervalMs: number) =>
    new EventPublisher({
      baseUrl: config.INGEST_URL,
      token: config.INGEST_TOKEN,
      source: SOURCE,
      fetch: createHttpFetch(),
      batchSize: config.INGEST_BATCH,
      flushIntervalMs,
      // A round holds up to BULLMQ_READ_COUNT events per queue.
      maxQueuedEvents: Math.max(10_000, 2 * config.BULLMQ_READ_COUNT * Math.max(queues.size, 20)),
    });
  // A publisher arms its flush timer with the first event of each batch. The stream reader
  // flushes every round itself, so for its publishers the timer is only a backstop: at 1 s it
  // wakes the process about once a second, where 5 ms woke it once more per round for nothing
  // (a wakeup of an idle Node process costs ~0.1 ms of CPU here).
  const publishers = Array.from({ length: config.INGEST_CONCURRENCY }, () => newPublisher(1000));
  // Heartbeats, queue stats and command results: posted within 5 ms, in requests of their own.
  const publisher = newPublisher(5);

  const reader = startStreamReader({
    bull,
    blocking: bullBlocking,
    redis,
    store: new PositionStore(redis, keys),
    keys,
    prefix: config.BULLMQ_PREFIX,
    queues,
    publishers,
    requestEvents: config.INGEST_BATCH,
    logger,
    metrics,
    instance: ctx.instance,
    userIdField: config.BULLMQ_USER_ID_FIELD,
    agentField: config.BULLMQ_AGENT_FIELD,
    start: config.BULLMQ_START,
    readCount: config.BULLMQ_READ_COUNT,
    blockMs: config.BULLMQ_BLOCK_MS,
    batchMs: config.BULLMQ_BATCH_MS,
    leaseMs: config.BULLMQ_LEASE_MS,
    inspectMs: config.BULLMQ_POLL_MS,
    watch: watchdog.watch('read', Math.max(ctx.watchdogTimeoutMs, 3 * config.BULLMQ_BLOCK_MS)),
  });
  const found = () => reader.nudge();
  const discovery = discover
    ? startDiscovery({
        bull,
        prefix: config.BULLMQ_PREFIX,
        queues,
        intervalMs: config.BULLMQ_DISCOVERY_MS,
        logger,
        watch: watchdog.watch('discovery', Math.max(ctx.watchdogTimeoutMs, 3 * config.BULLMQ_DISCOVERY_MS)),
        onFound: found,
      })
    : null;
  const poller = startPoller({
    bull,
    redis,
    keys,
    ssotKeys: ctx.keys,
    prefix: config.BULLMQ_PREFIX,
    queues,
    discover,
    bullQueues,
    publisher,
    logger,
    metrics,
    instance: ctx.instance,
    pollMs: config.BULLMQ_POLL_MS,
    leaseMs: config.BULLMQ_LEASE_MS,
    concurrency: config.BULLMQ_WORKER_CONCURRENCY,
    watch: watchdog.watch('workers', Math.max(ctx.watchdogTimeoutMs, 3 * config.BULLMQ_POLL_MS)),
    onFound: found,
  });
  const consumer = new CommandConsumer({
    redis,
    namespace: config.SSOT_NAMESPACE,
    source: SOURCE,
    capabilities: BUILTIN_SOURCE_CAPABILITIES[SOURCE]!,
    publisher,
    consumer: ctx.instance,
    // Its blocking read runs on a duplicate of this connection, which keeps the command timeout:
    // the BLOCK must end well within it.
    blockMs: Math.max(100, Math.floor(config.REDIS_COMMAND_TIMEOUT_MS / 2)),
    handle: createCommandHandler({ bull, redis, keys, prefix: config.BULLMQ_PREFIX, queues, bullQueues, logger, metrics }),
    onMalformed: (entryId, reason) => logger.warn({ entryId, reason }, 'malformed command set aside'),
    onError: (error) => logger.warn({ err: (error as Error)?.message }, 'command stream read failed; retrying'),
  });
  await consumer.start();
  ctx.heartbeat(redis);

  let server: Server | undefined;
  if (options.listen) {
    server = await startHealthServer(config.PORT, {
      registry,
      watchdog,
      http: httpServerOptions(config),
      readiness: { redis: () => redis.ping(), bullmq: () => bull.ping() },
    });
    logger.info(
      { port: config.PORT, prefix: config.BULLMQ_PREFIX, queues: discover ? 'discovered' : config.BULLMQ_QUEUES, ingest: config.INGEST_URL },
      'bullmq-bridge ready',
    );
  }

  const closeServer = async () => {
    if (server) await new Promise((resolve) => server!.close(resolve));
  };
  return {
    registry,
    logger,
    server,
    queues,
    reader,
    poller,
    async kill() {
      reader.halt();
      poller.halt();
      await discovery?.stop();
      await closeServer();
      bull.disconnect();
      bullBlocking.disconnect();
      ctx.kill();
    },
    async stop() {
      // Reading stops after its round (saved), then what is in flight is posted, then the rest.
      await reader.stop();
      await poller.stop();
      await discovery?.stop();
      await consumer.stop();
      await Promise.all([...publishers, publisher].map((p) => p.close()));
      await bullQueues.close();
      await closeServer();
      await closeRedis(bull, bullBlocking);
      await ctx.close();
    },
  };
}

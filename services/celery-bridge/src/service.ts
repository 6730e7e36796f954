import type { Server } from 'node:http';
import { CommandConsumer, EventPublisher, IngestError, PublisherQueueFullError } from '@agentos/client';
import { BUILTIN_SOURCE_CAPABILITIES, type RedisKeys } from '@agentos/contracts';
import {
  closeRedis,
  createRedis,
  createServiceContext,
  httpServerOptions,
  type Logger,
  startHealthServer,
} from '@agentos/runtime';
import type { Registry } from 'prom-client';
import { EventSubscription } from './broker';
import { createCommandHandler } from './commands';
import { brokerDb, type BridgeConfig } from './config';
import { CeleryControl, LamportClock } from './control';
import { parseMessage } from './envelope';
import { queueStatsEventId } from './event-ids';
import { createHttpFetch } from './http-fetch';
import { createBridgeMetrics, perLabel } from './metrics';
import { readQueueDepths } from './queue-depth';
import { type SsotEvent, Translator } from './translate';
import { createWorkerInspector } from './worker-inspector';

export const SERVICE_NAME = 'celery-bridge';
/** The `source` of every event posted, and the command stream read (`ssot:commands:celery`). */
export const SOURCE = 'celery';
/** Retries of a batch the api did not take (backoff 0.1 s doubling to 30 s: ~80 s in all). */
const PUBLISH_RETRIES = 10;
/** BLOCK of the command consumer's reads. */
const COMMAND_BLOCK_MS = 1000;

export interface BridgeService {
  registry: Registry;
  logger: Logger;
  keys: RedisKeys;
  server?: Server;
  stop(): Promise<void>;
}

/**
 * The bridge: Celery's event stream (its Redis broker) → `POST /api/events`; the broker's depth
 * per queue → `queue:stats`; the SSOT's `ssot:commands:celery` → Celery's remote control.
 */
export async function startBridgeService(config: Readonly<BridgeConfig>, options: { listen?: boolean; logger?: Logger } = {}): Promise<BridgeService> {
  const ctx = createServiceContext(SERVICE_NAME, config, options);
  const { logger, registry, keys } = ctx;
  const db = brokerDb(config.CELERY_BROKER_URL);
  const ssot = ctx.redis('command');
  const broker = createRedis(config.CELERY_BROKER_URL, { name: `${SERVICE_NAME}:broker`, role: 'command', commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS });
  // The consumer's blocking read (BLOCK 1 s) runs on a duplicate of this one: its command timeout
  // must outlast the block.
  const commandsRedis = createRedis(config.REDIS_URL, { name: `${SERVICE_NAME}:commands`, role: 'command', commandTimeoutMs: COMMAND_BLOCK_MS + config.REDIS_COMMAND_TIMEOUT_MS });
  const brokerWatch = ctx.watchdog.watch('redis:broker', ctx.watchdogTimeoutMs);
  const brokerProbe = setInterval(() => void broker.ping().then(brokerWatch.progress, () => {}), 1000);
  brokerProbe.unref();

  const publisher = new EventPublisher({
    baseUrl: config.INGEST_URL,
    token: config.INGEST_TOKEN,
    source: SOURCE,
    flushIntervalMs: config.INGEST_FLUSH_MS,
    // Celery replays nothing: what the api cannot take yet is held (within the publisher's
    // 10,000 events) and retried for about a minute and a half rather than the default 6 s.
    maxRetries: PUBLISH_RETRIES,
    fetch: createHttpFetch(),
  });
  const clock = new LamportClock();
  const control = new CeleryControl(broker, db, clock);

  let subscription: EventSubscription;
  const translator = new Translator({
    agentMap: config.CELERY_AGENT_MAP,
    defaultQueue: config.CELERY_QUEUES[0]!,
    sentWaitMs: config.CELERY_SENT_WAIT_MS,
    tracebackChars: config.CELERY_TRACEBACK_CHARS,
    maxTrackedTasks: config.CELERY_MAX_TRACKED_TASKS,
    observer: {
      onJoinedLate: () => metrics.joinedLate.inc(),
      onClockSkipped: (ticks) => metrics.clockSkipped.inc(ticks),
      onHeartbeatsMissed: (count) => metrics.heartbeatsMissed.inc(count),
      onClockAhead: () => metrics.clockAhead.inc(),
      onWorkerSeen: (hostname, fresh) => inspectWorker?.(hostname, fresh),
    },
  });
  const metrics = createBridgeMetrics(registry, {
    connected: () => subscription?.connected ?? false,
    disconnectedMs: () => subscription?.disconnectedMs() ?? 0,
    held: () => translator.held,
    tracked: () => translator.tracked,
  });

  const inspectWorker = config.CELERY_INSPECT_WORKERS
    ? createWorkerInspector({ control, translator, metrics, logger, timeoutMs: config.CELERY_CONTROL_TIMEOUT_MS })
    : undefined;
  const countRead = perLabel(metrics.eventsRead, 'type');
  const countPosted = perLabel(metrics.posted, 'name');

  // Bad data is counted always and logged once per kind: a broken producer must not flood the log.
  const logged = new Set<string>();
  const drop = (reason: string, detail: string) => {
    metrics.dropped.inc({ reason });
    if (logged.has(reason)) return;
    logged.add(reason);
    logger.warn({ reason, detail }, 'Celery message set aside (further ones of this kind are only counted)');
  };

  const post = (event: SsotEvent) => {
    publisher.publish(event.name, event.payload as never, { id: event.id, occurredAt: event.occurredAt }).then(
      () => {
        countPosted(event.name);
        metrics.lag.observe(Math.max(0, Date.now() - event.at) / 1000);
      },
      (error: unknown) => {
        if (error instanceof PublisherQueueFullError) drop('queue_full', error.message);
        else if (error instanceof IngestError && error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429) drop('refused', error.message);
        else drop('unposted', (error as Error)?.message ?? String(error));
      },
    );
  };

  const onMessage = (message: string) => {
    metrics.messages.inc();
    const parsed = parseMessage(message);
    for (const problem of parsed.problems) drop(problem.reason, problem.detail);
    for (const type of parsed.ignored) metrics.ignored.inc({ type });
    for (const event of parsed.events) {
      countRead(event.type);
      if (event.clock !== undefined) clock.observe(event.clock);
      for (const out of translator.translate(event)) post(out);
    }
  };

  subscription = new EventSubscription(config.CELERY_BROKER_URL, db, {
    onMessage,
    onDisconnect: () => metrics.disconnects.inc(),
    watch: ctx.watchdog.watch('broker:subscription', ctx.watchdogTimeoutMs),
    logger,
    name: `${SERVICE_NAME}:events`,
    readIntervalMs: config.CELERY_READ_INTERVAL_MS,
  });

  // Held tasks (waiting for their task-sent) are released on time even when nothing else arrives.
  const expiry = setInterval(() => {
    for (const out of translator.expire()) post(out);
  }, Math.max(10, Math.min(50, Math.floor(config.CELERY_SENT_WAIT_MS / 5))));

  const queueWatch = ctx.watchdog.watch('queue-depth', Math.max(ctx.watchdogTimeoutMs, 3 * config.CELERY_QUEUE_POLL_MS));
  const pollQueues = async () => {
    const depths = await readQueueDepths(broker, config.CELERY_QUEUES);
    const at = Date.now();
    const online = translator.onlineWorkers();
    const anyKnown = online.some((w) => w.queues !== undefined);
    for (const [queue, pending] of depths) {
      metrics.queueDepth.set({ queue }, pending);
      const workers = anyKnown ? online.filter((w) => w.queues?.includes(queue)).length : undefined;
      post({
        id: queueStatsEventId(queue, at),
        name: 'queue:stats',
        payload: { queue, pending, ...(workers === undefined ? {} : { workers }) },
        occurredAt: new Date(at).toISOString(),
        at,
      });
    }
    queueWatch.progress();
  };
  const queueTimer = setInterval(() => {
    pollQueues().catch((error: Error) => logger.warn({ err: error.message }, 'reading the broker queue depths failed'));
  }, config.CELERY_QUEUE_POLL_MS);

  const handle = createCommandHandler(control);
  const consumer = new CommandConsumer({
    redis: commandsRedis,
    namespace: config.SSOT_NAMESPACE,
    source: SOURCE,
    capabilities: BUILTIN_SOURCE_CAPABILITIES[SOURCE]!,
    publisher,
    consumer: ctx.instance,
    blockMs: COMMAND_BLOCK_MS,
    handle: async (command) => {
      const outcome = await handle(command);
      metrics.commands.inc({ action: command.action, outcome: outcome.ok ? 'ok' : 'failed' });
      logger.info({ command_id: command.command_id, job_id: command.job_id, action: command.action, ...outcome }, 'command carried out');
      return outcome;
    },
    onMalformed: (entryId, reason) => logger.warn({ entryId, reason }, 'malformed command set aside'),
    onError: (error) => logger.warn({ err: (error as Error)?.message ?? String(error) }, 'command stream read failed; retrying'),
  });

  // With the broker away the bridge still starts (and says so on /readyz); the subscription
  // comes up when the broker does.
  const subscribed = subscription.start().catch((error: Error) => logger.error({ err: error.message }, 'subscribing to Celery events failed'));
  await Promise.race([subscribed, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  await consumer.start();
  ctx.heartbeat(ssot);
  void pollQueues().catch(() => {});

  let server: Server | undefined;
  if (options.listen) {
    server = await startHealthServer(config.PORT, {
      registry,
      watchdog: ctx.watchdog,
      http: httpServerOptions(config),
      readiness: {
        redis: () => ssot.ping(),
        broker: () => broker.ping(),
        events: async () => {
          if (!subscription.connected) throw new Error('not subscribed to the Celery event channels');
        },
      },
    });
  }
  logger.info({ port: options.listen ? config.PORT : null, pattern: subscription.pattern, queues: config.CELERY_QUEUES, ingest: config.INGEST_URL }, 'celery-bridge ready');

  return {
    registry,
    logger,
    keys,
    server,
    async stop() {
      clearInterval(queueTimer);
      clearInterval(expiry);
      clearInterval(brokerProbe);
      queueWatch.stop();
      brokerWatch.stop();
      await subscription.stop();
      // What is held waits no longer: posted with the best queue known.
      for (const out of translator.drain()) post(out);
      await consumer.stop();
      await publisher.close();
      if (server) await new Promise((resolve) => server!.close(resolve));
      await closeRedis(broker, commandsRedis);
      await ctx.close();
    },
  };
}

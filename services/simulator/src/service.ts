import type { Server } from 'node:http';
import { CommandConsumer, EventPublisher } from '@agentos/client';
import { createServiceContext, httpServerOptions, type Logger, startHealthServer } from '@agentos/runtime';
import type { Registry } from 'prom-client';
import type { SimulatorConfig } from './config';
import { Driver, type RunSummary } from './driver';
import { createSimulatorMetrics } from './metrics';
import { Scenario } from './scenario';

export const SERVICE_NAME = 'simulator';
/** The source of every event it posts and of the commands it carries out (CONTRACT §5, §8). */
export const SOURCE = 'simulator';
/** What it can do to its jobs, as BullMQ can (CONTRACT §8): retry a failed one, cancel one not finished. */
export const CAPABILITIES = { retry: ['failed'], cancel: ['pending', 'processing'] } as const;

export interface SimulatorService {
  scenario: Scenario;
  driver: Driver;
  registry: Registry;
  logger: Logger;
  server?: Server;
  /** Resolves once `SIM_DURATION_S` has passed (never without it). */
  finished: Promise<void>;
  /** Stops the run (its clean-up posted), the commands and the connections; resolves with what the run did. */
  stop(): Promise<RunSummary>;
}

export async function startSimulatorService(config: Readonly<SimulatorConfig>, options: { listen?: boolean; logger?: Logger } = {}): Promise<SimulatorService> {
  const ctx = createServiceContext(SERVICE_NAME, config, options);
  const { logger, registry, watchdog } = ctx;
  const scenario = new Scenario({
    seed: config.SIM_SEED,
    rate: config.SIM_RATE,
    workers: config.SIM_WORKERS,
    speed: config.SIM_SPEED,
    failureRate: config.SIM_FAILURE_RATE,
    backlogEveryS: config.SIM_BACKLOG_EVERY_S,
    crashEveryS: config.SIM_CRASH_EVERY_S,
  });
  // About a second of events may wait for the api; past that the simulation waits too.
  const maxInFlight = Math.max(2 * config.INGEST_BATCH, Math.ceil(config.SIM_RATE));
  const publisher = new EventPublisher({
    baseUrl: config.INGEST_URL,
    token: config.INGEST_TOKEN,
    source: SOURCE,
    batchSize: config.INGEST_BATCH,
    flushIntervalMs: 50,
    // A platform does not drop its events while the api restarts: retried for about a minute.
    maxRetries: 12,
    retryBaseMs: 200,
    // The clean-up on stopping (every unfinished job cancelled) comes on top of what is in flight.
    maxQueuedEvents: maxInFlight + 100_000,
  });
  let driver!: Driver;
  const metrics = createSimulatorMetrics(registry, { target: config.SIM_RATE, achieved: () => driver.achievedRate(), lagSeconds: () => driver.lagSeconds() });
  driver = new Driver({
    scenario,
    publisher,
    metrics,
    logger,
    rate: config.SIM_RATE,
    durationMs: config.SIM_DURATION_S === undefined ? undefined : config.SIM_DURATION_S * 1000,
    maxInFlight,
    watch: watchdog.watch('pace', ctx.watchdogTimeoutMs),
  });
  const status = setInterval(() => {
    const now = scenario.status();
    metrics.workers.set({ state: 'online' }, now.workersOnline);
    metrics.workers.set({ state: 'crashed' }, now.workersCrashed);
    for (const [queue, count] of Object.entries(now.waiting)) metrics.waiting.set({ queue }, count);
  }, 1000);

  const redis = ctx.redis('command');
  const consumer = new CommandConsumer({
    redis,
    namespace: config.SSOT_NAMESPACE,
    source: SOURCE,
    capabilities: CAPABILITIES,
    publisher,
    consumer: ctx.instance,
    // Its blocking read runs on a duplicate of this connection, which keeps the command timeout:
    // the BLOCK must end well within it.
    blockMs: Math.max(100, Math.floor(config.REDIS_COMMAND_TIMEOUT_MS / 2)),
    handle: (command) => driver.command(command),
    onMalformed: (entryId, reason) => logger.warn({ entryId, reason }, 'malformed command set aside'),
    onError: (error) => logger.warn({ err: (error as Error)?.message }, 'command stream read failed; retrying'),
  });
  // Commands are a side line: without Redis the simulation still runs, and keeps trying.
  let stopping = false;
  const commandsStarted = (async () => {
    for (let attempt = 0; !stopping; attempt += 1) {
      try {
        await consumer.start();
        return true;
      } catch (error) {
        if (attempt === 0) logger.warn({ err: (error as Error).message }, 'cannot read commands yet (Redis); retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 500 * 2 ** attempt)));
      }
    }
    return false;
  })();
  ctx.heartbeat(redis);

  let server: Server | undefined;
  if (options.listen) {
    server = await startHealthServer(config.PORT, {
      registry,
      watchdog,
      http: httpServerOptions(config),
      readiness: { redis: () => redis.ping(), ingest: () => driver.ingestCheck() },
    });
  }
  driver.start();
  logger.info(
    {
      port: options.listen ? config.PORT : undefined,
      seed: config.SIM_SEED,
      tag: scenario.tag,
      rate: config.SIM_RATE,
      speed: config.SIM_SPEED,
      workers: config.SIM_WORKERS,
      slots: scenario.concurrency,
      ingest: config.INGEST_URL,
      durationS: config.SIM_DURATION_S,
    },
    `simulator posting ${config.SIM_RATE} events/s to ${config.INGEST_URL} (seed ${config.SIM_SEED}: --seed ${config.SIM_SEED} replays it)`,
  );

  let stopped: Promise<RunSummary> | undefined;
  return {
    scenario,
    driver,
    registry,
    logger,
    server,
    finished: driver.finished,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        clearInterval(status);
        // No command is taken while the run ends; then the run's last events, then the rest.
        if (await commandsStarted) await consumer.stop();
        const summary = await driver.stop();
        await publisher.close();
        if (server) await new Promise((resolve) => server!.close(resolve));
        await ctx.close();
        return summary;
      })();
      return stopped;
    },
  };
}

import { type RedisKeys, redisKeys } from '@agentos/contracts';
import { Registry } from 'prom-client';
import { type HeartbeatDetails, instanceId, startServiceHeartbeat } from './heartbeat';
import { createLogger, type Logger } from './logger';
import { closeRedis, createRedis, pingConnection, type Redis, type RedisRole } from './redis';
import { Watchdog } from './watchdog';

/** What every service process starts from: who it is, its logger, keys, metrics and Redis. */
export interface ServiceContext {
  service: string;
  /** Unique per process (`hostname-pid-xxxx`): consumer names, lease owners, heartbeats. */
  instance: string;
  version: string;
  logger: Logger;
  keys: RedisKeys;
  /** This process's metrics; one registry per service instance, so tests can run several. */
  registry: Registry;
  /** This process's background loops; `/healthz` is red while one is stuck. */
  watchdog: Watchdog;
  /** `WATCHDOG_TIMEOUT_MS`: the deadline of loops that have no period of their own. */
  watchdogTimeoutMs: number;
  /**
   * A new Redis connection for `role`, closed by `close()`. Command and subscriber connections are
   * PINGed every second and watched (`redis:<role>`): one that stops answering while it looks
   * connected turns `/healthz` red.
   */
  redis(role: RedisRole): Redis;
  /** Starts the service heartbeat on `redis` (the collector turns it into services_status). */
  heartbeat(redis: Redis, details?: HeartbeatDetails): void;
  /** Stops the heartbeat (removing it) and closes every connection made by `redis()`. */
  close(): Promise<void>;
  /** As a crash would: connections dropped, the heartbeat left to go stale. */
  kill(): void;
}

/** How often each watched connection is PINGed. */
const PROBE_INTERVAL_MS = 1000;

export function createServiceContext(
  service: string,
  config: { REDIS_URL: string; SSOT_NAMESPACE: string; LOG_LEVEL: string; REDIS_COMMAND_TIMEOUT_MS?: number; WATCHDOG_TIMEOUT_MS?: number },
  options: { logger?: Logger; version?: string } = {},
): ServiceContext {
  const instance = instanceId();
  const version = options.version ?? process.env.npm_package_version ?? '0.1.0';
  const connections: Redis[] = [];
  const keys = redisKeys(config.SSOT_NAMESPACE);
  const watchdog = new Watchdog();
  const watchdogTimeoutMs = config.WATCHDOG_TIMEOUT_MS ?? 10_000;
  const probes: { redis: Redis; role: RedisRole; progress(): void }[] = [];
  let probing: NodeJS.Timeout | undefined;
  let beat: ReturnType<typeof startServiceHeartbeat> | undefined;

  // One PING per watched connection per second; only an answer counts as progress. With the
  // command timeout, a PING into a dead connection fails in about a second, never piles up.
  const probe = () => {
    for (const { redis, role, progress } of probes) pingConnection(redis, role, config.REDIS_COMMAND_TIMEOUT_MS).then(progress, () => {});
  };
  const stopProbes = () => {
    clearInterval(probing);
    probing = undefined;
  };

  return {
    service,
    instance,
    version,
    logger: options.logger ?? createLogger(service, config.LOG_LEVEL, instance),
    keys,
    registry: new Registry(),
    watchdog,
    watchdogTimeoutMs,
    redis(role) {
      const client = createRedis(config.REDIS_URL, { name: `${service}:${role}`, role, commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS });
      connections.push(client);
      if (role !== 'blocking') {
        const same = probes.filter((p) => p.role === role).length;
        const watch = watchdog.watch(same === 0 ? `redis:${role}` : `redis:${role}:${same + 1}`, watchdogTimeoutMs);
        probes.push({ redis: client, role, progress: watch.progress });
        probing ??= setInterval(probe, PROBE_INTERVAL_MS).unref();
      }
      return client;
    },
    heartbeat(redis, details) {
      beat = startServiceHeartbeat(redis, keys, { service, instance, version }, 5000, details);
    },
    async close() {
      stopProbes();
      await beat?.stop();
      await closeRedis(...connections);
    },
    kill() {
      stopProbes();
      beat?.kill();
      for (const client of connections) client.disconnect();
    },
  };
}

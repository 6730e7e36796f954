import { type RedisKeys, redisKeys } from '@agentos/contracts';
import { Registry } from 'prom-client';
import { type HeartbeatDetails, instanceId, startServiceHeartbeat } from './heartbeat';
import { createLogger, type Logger } from './logger';
import { closeRedis, createRedis, type Redis, type RedisRole } from './redis';

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
  /** A new Redis connection for `role`, closed by `close()`. */
  redis(role: RedisRole): Redis;
  /** Starts the service heartbeat on `redis` (the collector turns it into services_status). */
  heartbeat(redis: Redis, details?: HeartbeatDetails): void;
  /** Stops the heartbeat (removing it) and closes every connection made by `redis()`. */
  close(): Promise<void>;
  /** As a crash would: connections dropped, the heartbeat left to go stale. */
  kill(): void;
}

export function createServiceContext(
  service: string,
  config: { REDIS_URL: string; SSOT_NAMESPACE: string; LOG_LEVEL: string },
  options: { logger?: Logger; version?: string } = {},
): ServiceContext {
  const instance = instanceId();
  const version = options.version ?? process.env.npm_package_version ?? '0.1.0';
  const connections: Redis[] = [];
  const keys = redisKeys(config.SSOT_NAMESPACE);
  let beat: ReturnType<typeof startServiceHeartbeat> | undefined;
  return {
    service,
    instance,
    version,
    logger: options.logger ?? createLogger(service, config.LOG_LEVEL, instance),
    keys,
    registry: new Registry(),
    redis(role) {
      const client = createRedis(config.REDIS_URL, { name: `${service}:${role}`, role });
      connections.push(client);
      return client;
    },
    heartbeat(redis, details) {
      beat = startServiceHeartbeat(redis, keys, { service, instance, version }, 5000, details);
    },
    async close() {
      await beat?.stop();
      await closeRedis(...connections);
    },
    kill() {
      beat?.kill();
      for (const client of connections) client.disconnect();
    },
  };
}

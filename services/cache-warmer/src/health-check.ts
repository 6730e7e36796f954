import type { RedisKeys, SystemHealthPayload } from '@agentos/contracts';
import { appendEvents, Lease, type Logger, type LoopWatch, newEvent, type Redis, type ServiceHeartbeat } from '@agentos/runtime';

/** A service instance whose heartbeat is older than this does not count as up. */
const FRESH_MS = 15_000;

/**
 * Every `intervalMs`, one replica (a lease) raises `system:health_check`: each service up or down
 * from the heartbeats, Redis's round trip measured here, the database's as the collector and
 * dispatcher last measured it (this service has no database connection of its own).
 */
export function startHealthChecks(options: {
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  instance: string;
  intervalMs: number;
  /** `EVENT_STREAM_MAXLEN`. */
  streamMaxLen: number;
  /** Told of every check that reached Redis (lease held or not). */
  watch?: LoopWatch;
}) {
  const lease = new Lease(options.redis, options.keys.healthCheckLease, options.instance, Math.floor(options.intervalMs * 1.5));

  async function check(): Promise<SystemHealthPayload | null> {
    if (!(await lease.acquire())) return null;
    const started = performance.now();
    await options.redis.ping();
    const redisMs = round(performance.now() - started);
    const beats = await options.redis.hgetall(options.keys.serviceHeartbeats);
    const services: Record<string, string> = {};
    let databaseMs = 0;
    let databaseAt = 0;
    for (const json of Object.values(beats)) {
      let beat: ServiceHeartbeat;
      try {
        beat = JSON.parse(json) as ServiceHeartbeat;
      } catch {
        continue;
      }
      const at = Date.parse(beat.at);
      const fresh = Date.now() - at < FRESH_MS;
      if (fresh || !services[beat.service]) services[beat.service] = fresh ? 'up' : 'down';
      if (fresh && typeof beat.database_ms === 'number' && at > databaseAt) {
        databaseAt = at;
        databaseMs = beat.database_ms;
      }
    }
    const payload: SystemHealthPayload = { services, redis_ms: redisMs, database_ms: databaseMs };
    await appendEvents(options.redis, options.keys, [newEvent('system:health_check', payload)], options.streamMaxLen);
    return payload;
  }

  const timer = setInterval(() => {
    check().then(
      () => options.watch?.progress(),
      (error: Error) => options.logger.warn({ err: error.message }, 'health check failed'),
    );
  }, options.intervalMs);
  return {
    check,
    /** No more checks; the lease is left to lapse (as a crash would leave it). */
    halt() {
      clearInterval(timer);
      options.watch?.stop();
    },
    async stop() {
      clearInterval(timer);
      options.watch?.stop();
      await lease.release().catch(() => {});
    },
  };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { RedisKeys } from '@agentos/contracts';
import type { Redis } from 'ioredis';
import { withTimeout } from './timeout';

/** What each running service process publishes about itself every few seconds. */
export interface ServiceHeartbeat {
  service: string;
  instance: string;
  version: string;
  started_at: string;
  at: string;
  /** Round trip to the database, ms, from services that hold a connection (collector, dispatcher). */
  database_ms?: number;
}

/** Extra fields a service adds to each heartbeat; a failure just leaves them out. */
export type HeartbeatDetails = () => Promise<Partial<ServiceHeartbeat>>;

/** `hostname-pid-xxxx`: unique per process, readable in logs and `CLIENT LIST`. */
export function instanceId(): string {
  return `${hostname()}-${process.pid}-${randomUUID().slice(0, 4)}`;
}

/**
 * Writes this process's heartbeat into the shared hash every `intervalMs`; the collector turns the
 * hash into `system_control.services_status`. `stop()` removes the entry so a clean shutdown
 * shows at once.
 */
export function startServiceHeartbeat(
  redis: Redis,
  keys: RedisKeys,
  info: { service: string; instance: string; version: string },
  intervalMs = 5000,
  details?: HeartbeatDetails,
): { stop(): Promise<void>; kill(): void } {
  const field = `${info.service}/${info.instance}`;
  const startedAt = new Date().toISOString();
  const beat = async () => {
    const extra = details ? await withTimeout(details(), intervalMs / 2, 'heartbeat details').catch(() => ({})) : {};
    const heartbeat: ServiceHeartbeat = { ...extra, ...info, started_at: startedAt, at: new Date().toISOString() };
    await redis.hset(keys.serviceHeartbeats, field, JSON.stringify(heartbeat)).catch(() => {
      /* Redis away: the next beat retries */
    });
  };
  void beat();
  const timer = setInterval(() => void beat(), intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      // Best effort, bounded: with Redis away the entry simply goes stale.
      await withTimeout(redis.hdel(keys.serviceHeartbeats, field), 500, 'heartbeat removal').catch(() => {});
    },
    kill() {
      clearInterval(timer);
    },
  };
}

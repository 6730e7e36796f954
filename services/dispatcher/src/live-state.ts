import type { AgentEvent, RedisKeys, WorkerLiveState } from '@agentos/contracts';
import type { Redis } from '@agentos/runtime';

/**
 * Live worker state in Redis, what the collector overlays on the database record: one hash per
 * worker that expires with the heartbeat TTL, and a sorted set by last heartbeat that the sweeper
 * reads to find lapsed workers. A heartbeat older than the one stored never moves it back.
 */
export async function applyLiveState(redis: Redis, keys: RedisKeys, events: readonly AgentEvent[], ttlS: number): Promise<void> {
  const pipeline = redis.pipeline();
  let any = false;
  for (const event of events) {
    if (event.name === 'worker:heartbeat') {
      const p = event.payload;
      const state: WorkerLiveState = {
        hostname: p.hostname ?? `worker-${p.worker_id.slice(0, 8)}`,
        queues: JSON.stringify(p.queues),
        active_jobs: String(p.active_jobs),
        concurrency: String(p.concurrency),
        at: event.occurred_at,
        ...(p.cpu === undefined ? {} : { cpu: String(p.cpu) }),
        ...(p.memory_mb === undefined ? {} : { memory_mb: String(p.memory_mb) }),
      };
      const at = Date.parse(event.occurred_at);
      // GT: only a newer heartbeat moves the score (Redis ≥ 6.2).
      pipeline.zadd(keys.workersLive, 'GT', at, p.worker_id);
      pipeline.hset(keys.workerLive(p.worker_id), state);
      pipeline.expire(keys.workerLive(p.worker_id), ttlS);
      any = true;
    } else if (event.name === 'worker:offline') {
      pipeline.zrem(keys.workersLive, event.payload.worker_id);
      pipeline.del(keys.workerLive(event.payload.worker_id));
      any = true;
    } else if (event.name === 'system:health_check') {
      pipeline.set(keys.systemHealth, JSON.stringify({ ...event.payload, at: event.occurred_at }));
      any = true;
    }
  }
  if (!any) return;
  const results = (await pipeline.exec()) ?? [];
  const failed = results.find(([error]) => error);
  if (failed) throw failed[0];
}

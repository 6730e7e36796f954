import type { AgentEvent, RedisKeys, WorkerLiveState } from '@agentos/contracts';
import type { ChainableCommander } from '@agentos/runtime';

/**
 * Whether the event writes worker state (its live hash and deadline here, its record in the
 * persist): a batch with one bumps `workersGeneration` before it is acknowledged (dispatch.ts).
 */
export function changesWorkers(event: AgentEvent): boolean {
  return event.name === 'worker:heartbeat' || event.name === 'worker:offline';
}

/**
 * Live state in Redis, what the collector overlays on the database records:
 * - per worker, one hash that expires with its heartbeat's TTL (the payload's `ttl_s`, else
 *   `ttlS`), and its deadline in a sorted set (score: when it lapses, ms) that the sweeper reads
 *   to find lapsed workers. A heartbeat whose deadline is earlier than the one stored never moves
 *   it back;
 * - per queue, the depth its platform's broker last reported (`queue:stats`);
 * - the last `system:health_check`.
 *
 * Adds its commands to `pipeline` (sent with the batch's threshold checks); their replies are
 * the pipeline's to check.
 */
export function addLiveState(pipeline: ChainableCommander, keys: RedisKeys, events: readonly AgentEvent[], ttlS: number): void {
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
      const ttl = p.ttl_s ?? ttlS;
      const deadline = Date.parse(event.occurred_at) + ttl * 1000;
      // GT: only a later deadline moves the score (Redis ≥ 6.2).
      pipeline.zadd(keys.workersLive, 'GT', deadline, p.worker_id);
      pipeline.hset(keys.workerLive(p.worker_id), state);
      pipeline.expire(keys.workerLive(p.worker_id), ttl);
    } else if (event.name === 'worker:offline') {
      pipeline.zrem(keys.workersLive, event.payload.worker_id);
      pipeline.del(keys.workerLive(event.payload.worker_id));
    } else if (event.name === 'queue:stats') {
      const { queue, pending, workers } = event.payload;
      pipeline.hset(keys.queueStats, queue, JSON.stringify({ pending, ...(workers === undefined ? {} : { workers }), source: event.source, at: event.occurred_at }));
    } else if (event.name === 'system:health_check') {
      pipeline.set(keys.systemHealth, JSON.stringify({ ...event.payload, at: event.occurred_at }));
    }
  }
}

import type { AgentEvent, RedisKeys } from '@agentos/contracts';
import { newEvent, type Redis } from '@agentos/runtime';
import type { QueueLevel } from './persist';

/**
 * Which queues crossed their pending threshold, from the levels the batch's commit returned. A
 * queue is announced once when it goes over (SADD answers 1 to exactly one caller, across every
 * dispatcher replica) and can be announced again only after it fell back under (SREM). One
 * round trip for all the batch's queues.
 */
export async function checkThresholds(redis: Redis, keys: RedisKeys, levels: readonly QueueLevel[]): Promise<AgentEvent[]> {
  if (levels.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const level of levels) {
    if (level.pending > level.threshold) pipeline.sadd(keys.queuesOverThreshold, level.queue);
    else pipeline.srem(keys.queuesOverThreshold, level.queue);
  }
  const results = (await pipeline.exec()) ?? [];
  const warnings: AgentEvent[] = [];
  levels.forEach((level, index) => {
    const [error, added] = results[index] ?? [new Error('no reply')];
    if (error) throw error;
    if (level.pending > level.threshold && added === 1) {
      warnings.push(newEvent('queue:threshold_warning', { queue: level.queue, pending: level.pending, threshold: level.threshold }));
    }
  });
  return warnings;
}

import type { AgentEvent, RedisKeys } from '@agentos/contracts';
import { type ChainableCommander, newEvent } from '@agentos/runtime';
import type { QueueLevel } from './persist';

/**
 * Which queues crossed their pending threshold, from the levels the batch's commit returned. A
 * queue is announced once when it goes over (SADD answers 1 to exactly one caller, across every
 * dispatcher replica) and can be announced again only after it fell back under (SREM).
 *
 * Adds one command per queue to `pipeline` (sent with the batch's live state); the returned
 * function reads the warnings to raise from those commands' replies, in order.
 */
export function addThresholdChecks(
  pipeline: ChainableCommander,
  keys: RedisKeys,
  levels: readonly QueueLevel[],
): (replies: readonly [Error | null, unknown][]) => AgentEvent[] {
  for (const level of levels) {
    if (level.pending > level.threshold) pipeline.sadd(keys.queuesOverThreshold, level.queue);
    else pipeline.srem(keys.queuesOverThreshold, level.queue);
  }
  return (replies) => readWarnings(levels, replies);
}

function readWarnings(levels: readonly QueueLevel[], replies: readonly [Error | null, unknown][]): AgentEvent[] {
  const warnings: AgentEvent[] = [];
  levels.forEach((level, index) => {
    const [error, added] = replies[index] ?? [new Error('no reply')];
    if (error) throw error;
    if (level.pending > level.threshold && added === 1) {
      warnings.push(newEvent('queue:threshold_warning', { queue: level.queue, pending: level.pending, threshold: level.threshold }));
    }
  });
  return warnings;
}

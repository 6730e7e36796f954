import type { AgentEvent, RedisKeys } from '@agentos/contracts';
import type { PrismaClient } from '@agentos/db';
import { newEvent, type Redis } from '@agentos/runtime';

const QUEUE_THRESHOLD_SETTING = 'queue.default_pending_threshold';

/**
 * Which of `queues` crossed their pending threshold. A queue is announced once when it goes over
 * (SADD answers 1 to exactly one caller, across every dispatcher replica) and can be announced
 * again only after it fell back under (SREM).
 */
export async function checkThresholds(prisma: PrismaClient, redis: Redis, keys: RedisKeys, queues: ReadonlySet<string>): Promise<AgentEvent[]> {
  if (queues.size === 0) return [];
  const names = [...queues];
  const [counts, records, fallback] = await Promise.all([
    prisma.$queryRaw<{ queue: string; pending: number }[]>`
      SELECT queue, count(*)::int AS pending FROM jobs
      WHERE status = 'pending' AND queue = ANY(${names}) GROUP BY queue`,
    prisma.queue.findMany({ where: { name: { in: names } } }),
    prisma.setting.findUnique({ where: { key: QUEUE_THRESHOLD_SETTING } }),
  ]);
  const defaultThreshold = typeof fallback?.value === 'number' ? fallback.value : 1000;
  const pendingBy = new Map(counts.map((row) => [row.queue, row.pending]));
  const warnings: AgentEvent[] = [];
  for (const queue of names) {
    const pending = pendingBy.get(queue) ?? 0;
    const threshold = records.find((r) => r.name === queue)?.pendingThreshold ?? defaultThreshold;
    if (pending > threshold) {
      if ((await redis.sadd(keys.queuesOverThreshold, queue)) === 1) {
        warnings.push(newEvent('queue:threshold_warning', { queue, pending, threshold }));
      }
    } else {
      await redis.srem(keys.queuesOverThreshold, queue);
    }
  }
  return warnings;
}

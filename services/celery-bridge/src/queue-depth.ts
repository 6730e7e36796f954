import type { Redis } from '@agentos/runtime';

/**
 * kombu's Redis transport keeps a queue as one list per priority step: the queue's own name for
 * priority 0 and `{queue}\x06\x16{step}` for the others (`priority_steps` [0, 3, 6, 9], the
 * `\x06\x16` separator; `kombu/transport/redis.py` `_q_for_pri`). Workers BRPOP all four. What
 * a worker has already fetched (prefetched, running) is in none of them: the depth is what waits
 * on the broker.
 */
const PRIORITY_STEPS = [0, 3, 6, 9] as const;
const SEP = '\x06\x16';

export function priorityLists(queue: string): string[] {
  return PRIORITY_STEPS.map((step) => (step === 0 ? queue : `${queue}${SEP}${step}`));
}

/** The broker depth of each queue: the sum of `LLEN` over its priority lists, in one round trip. */
export async function readQueueDepths(redis: Redis, queues: readonly string[]): Promise<Map<string, number>> {
  const pipeline = redis.pipeline();
  for (const queue of queues) for (const list of priorityLists(queue)) pipeline.llen(list);
  const results = (await pipeline.exec()) ?? [];
  const depths = new Map<string, number>();
  queues.forEach((queue, q) => {
    let total = 0;
    for (let i = 0; i < PRIORITY_STEPS.length; i += 1) {
      const [error, value] = results[q * PRIORITY_STEPS.length + i] ?? [new Error('no reply')];
      if (error) throw error;
      total += Number(value) || 0;
    }
    depths.set(queue, total);
  });
  return depths;
}

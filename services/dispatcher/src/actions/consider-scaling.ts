import type { RedisKeys } from '@agentos/contracts';
import type { PrismaClient } from '@agentos/db';
import type { Redis } from '@agentos/runtime';

export interface ScalingOptions {
  /** Drain the backlog within this many minutes. */
  targetDrainMin: number;
  maxWorkers: number;
}

/** Window over which a queue's throughput per worker is measured. */
const THROUGHPUT_WINDOW_MIN = 15;

/**
 * consider_scaling: how many workers would drain `queue`'s backlog within the target, from its
 * depth and the throughput each of its workers showed over the last 15 minutes. Never below the
 * queue's minimum, never above the cap. Kept in Redis, where the collector puts it in the
 * snapshot and every dispatcher's /metrics exports it as `agentos_recommended_workers{queue}`.
 */
export async function considerScaling(
  prisma: PrismaClient,
  redis: Redis,
  keys: RedisKeys,
  queue: string,
  options: ScalingOptions,
): Promise<number> {
  const since = new Date(Date.now() - THROUGHPUT_WINDOW_MIN * 60_000);
  const [[counts], workers, record] = await Promise.all([
    prisma.$queryRaw<{ pending: number; done: number }[]>`
      SELECT coalesce((SELECT jobs FROM job_queue_counts WHERE queue = ${queue} AND status = 'pending'), 0)::int AS pending,
             (SELECT count(*)::int FROM jobs WHERE status IN ('completed', 'failed') AND finished_at >= ${since} AND queue = ${queue}) AS done`,
    prisma.worker.count({ where: { status: 'online', queues: { has: queue } } }),
    prisma.queue.findUnique({ where: { name: queue } }),
  ]);
  const pending = counts?.pending ?? 0;
  const done = counts?.done ?? 0;
  const minimum = record?.minWorkers ?? 1;
  // Jobs one worker finishes per minute; with no history, assume one a minute.
  const perWorkerPerMin = workers > 0 && done > 0 ? done / THROUGHPUT_WINDOW_MIN / workers : 1;
  const needed = Math.ceil(pending / (perWorkerPerMin * options.targetDrainMin));
  const recommended = Math.min(options.maxWorkers, Math.max(minimum, needed, workers > 0 && pending > 0 ? 1 : 0));
  await redis.hset(keys.scalingRecommendations, queue, String(recommended));
  return recommended;
}

import type { QueueSection } from '@agentos/contracts';
import type { SectionContext } from './context';
import { jobSummary } from './jobs';
import { defaultPendingThreshold } from './configuration';

const AWAITING_FAILED = 10;
const AWAITING_PENDING = 10;

export async function buildQueue(ctx: SectionContext): Promise<QueueSection> {
  const dayAgo = new Date(ctx.now.getTime() - 24 * 3_600_000);
  const [queues, active, failed, recentFailed, oldestPending, defaultThreshold, recommended] = await Promise.all([
    ctx.prisma.queue.findMany({ orderBy: { name: 'asc' } }),
    ctx.prisma.$queryRaw<{ queue: string; pending: number; processing: number; oldest: Date | null }[]>`
      SELECT queue,
             count(*) FILTER (WHERE status = 'pending')::int AS pending,
             count(*) FILTER (WHERE status = 'processing')::int AS processing,
             min(created_at) FILTER (WHERE status = 'pending') AS oldest
      FROM jobs WHERE status IN ('pending', 'processing') GROUP BY queue`,
    ctx.prisma.$queryRaw<{ queue: string; failed: number }[]>`
      SELECT queue, count(*)::int AS failed FROM jobs
      WHERE finished_at >= ${dayAgo} AND status = 'failed' GROUP BY queue`,
    ctx.prisma.job.findMany({
      where: { status: 'failed', finishedAt: { gte: dayAgo } },
      orderBy: { finishedAt: 'desc' },
      take: AWAITING_FAILED,
    }),
    ctx.prisma.job.findMany({ where: { status: 'pending' }, orderBy: { createdAt: 'asc' }, take: AWAITING_PENDING }),
    defaultPendingThreshold(ctx),
    ctx.redis.hgetall(ctx.keys.scalingRecommendations),
  ]);

  const activeBy = new Map(active.map((row) => [row.queue, row]));
  const failedBy = new Map(failed.map((row) => [row.queue, row.failed]));
  const names = new Set([...queues.map((q) => q.name), ...activeBy.keys(), ...failedBy.keys()]);
  return {
    queues: [...names].sort().map((name) => {
      const record = queues.find((q) => q.name === name);
      const counts = activeBy.get(name);
      const threshold = record?.pendingThreshold ?? defaultThreshold;
      const pending = counts?.pending ?? 0;
      return {
        name,
        pending,
        processing: counts?.processing ?? 0,
        failed: failedBy.get(name) ?? 0,
        oldest_pending_age_s: counts?.oldest ? Math.max(0, Math.round((ctx.now.getTime() - new Date(counts.oldest).getTime()) / 1000)) : null,
        pending_threshold: threshold,
        over_threshold: pending > threshold,
        paused: record?.paused ?? false,
        recommended_workers: recommended[name] === undefined ? null : Math.max(0, Math.round(Number(recommended[name])) || 0),
      };
    }),
    awaiting_action: [...recentFailed, ...oldestPending].map(jobSummary),
  };
}

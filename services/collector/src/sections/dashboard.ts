import type { DashboardSection } from '@agentos/contracts';
import { iso } from '../serialize';
import type { SectionContext } from './context';
import { jobSummary, startOfUtcDay } from './jobs';
import { loadServices } from './services';
import { loadWorkers } from './workers';

const RECENT_JOBS = 10;
const RECENT_NOTIFICATIONS = 10;

export async function buildDashboard(ctx: SectionContext): Promise<DashboardSection> {
  const dayAgo = new Date(ctx.now.getTime() - 24 * 3600_000);
  const [workers, services, [active], [completed], [today], recent, notifications, unread] = await Promise.all([
    loadWorkers(ctx),
    loadServices(ctx),
    // Served by the partial index on active jobs: cost follows the backlog, not the history.
    ctx.prisma.$queryRaw<{ pending: number; processing: number }[]>`
      SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending,
             count(*) FILTER (WHERE status = 'processing')::int AS processing
      FROM jobs WHERE status IN ('pending', 'processing')`,
    ctx.prisma.$queryRaw<{ completed: number }[]>`
      SELECT count(*)::int AS completed FROM jobs
      WHERE finished_at >= ${dayAgo} AND status = 'completed'`,
    ctx.prisma.$queryRaw<{ total: number }[]>`
      SELECT count(*)::int AS total FROM jobs WHERE created_at >= ${startOfUtcDay(ctx.now)}`,
    ctx.prisma.job.findMany({ orderBy: { createdAt: 'desc' }, take: RECENT_JOBS }),
    ctx.prisma.notification.findMany({ orderBy: { createdAt: 'desc' }, take: RECENT_NOTIFICATIONS }),
    ctx.prisma.notification.count({ where: { readAt: null } }),
  ]);

  const online = workers.filter((w) => w.status === 'online');
  const perQueue = new Map<string, number>();
  for (const worker of online) for (const queue of worker.queues) perQueue.set(queue, (perQueue.get(queue) ?? 0) + 1);
  const cpus = online.map((w) => w.cpu).filter((c): c is number => c !== null);
  const serviceStates = Object.values(services.status).map((s) => s.status);

  return {
    system: {
      status: serviceStates.length === 0 || serviceStates.every((s) => s === 'down') ? 'down' : serviceStates.every((s) => s === 'up') ? 'healthy' : 'degraded',
      uptime: services.oldestStart ? Math.max(0, Math.floor((ctx.now.getTime() - services.oldestStart.getTime()) / 1000)) : 0,
      cpu_usage: cpus.length === 0 ? 0 : round(cpus.reduce((a, b) => a + b, 0) / cpus.length, 1),
    },
    workers: {
      total: workers.length,
      active: online.length,
      details: workers,
      queues: [...perQueue].sort(([a], [b]) => a.localeCompare(b)).map(([name, count]) => ({ name, workers: count })),
    },
    queue: { pending: active?.pending ?? 0, processing: active?.processing ?? 0, completed: completed?.completed ?? 0 },
    jobs: { total_today: today?.total ?? 0, recent_jobs: recent.map(jobSummary) },
    notifications: {
      unread,
      recent: notifications.map((n) => ({
        id: n.id,
        kind: n.kind,
        severity: n.severity,
        title: n.title,
        message: n.message.length > 500 ? `${n.message.slice(0, 499)}…` : n.message,
        event_id: n.eventId,
        created_at: iso(n.createdAt)!,
        read: n.readAt !== null,
      })),
    },
  };
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

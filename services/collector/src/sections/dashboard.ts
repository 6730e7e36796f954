import type { DashboardSection, JobSummary, Notification } from '@agentos/contracts';
import type { SectionContext } from './context';
import { isoSql } from '@agentos/db';
import { jobSummariesSql, startOfUtcDay, windowStart } from './jobs';
import { loadServices } from './services';
import { loadWorkers } from './workers';

const RECENT_JOBS = 10;
const RECENT_NOTIFICATIONS = 10;

interface DashboardRow {
  pending: number;
  processing: number;
  completed: number;
  total_today: number;
  recent_jobs: JobSummary[];
  unread: number;
  notifications: Notification[];
}

export async function buildDashboard(ctx: SectionContext): Promise<DashboardSection> {
  const [workers, services, [counts]] = await Promise.all([
    loadWorkers(ctx),
    loadServices(ctx),
    // Everything else in one statement: one round trip, one query to plan and parse.
    ctx.query<DashboardRow>(
      `SELECT
         -- The backlog from its rollup (migration 20261207010000_job_queue_counts): a few rows,
         -- however large the backlog grows.
         (SELECT coalesce(sum(jobs) FILTER (WHERE status = 'pending'), 0) FROM job_queue_counts)::int AS pending,
         (SELECT coalesce(sum(jobs) FILTER (WHERE status = 'processing'), 0) FROM job_queue_counts)::int AS processing,
         -- From the job rollups (migration 20261130080000_job_rollups): a few rows, not a scan.
         (SELECT coalesce(sum(jobs), 0) FROM job_finished_hours WHERE hour >= $1 AND status = 'completed')::int AS completed,
         (SELECT coalesce(sum(jobs), 0) FROM job_created_hours WHERE hour >= $2)::int AS total_today,
         ${jobSummariesSql(`SELECT * FROM jobs ORDER BY created_at DESC LIMIT ${RECENT_JOBS}`, 'j.created_at DESC')} AS recent_jobs,
         -- Counted by triggers (migration 20261207000000_notification_counts): one row, not a
         -- count of every unread notification, which grows with every failed job.
         (SELECT coalesce(least(max(unread), 2147483647), 0) FROM notification_counts)::int AS unread,
         (SELECT coalesce(json_agg(json_build_object(
                   'id', n.id, 'kind', n.kind, 'severity', n.severity, 'title', n.title,
                   'message', CASE WHEN length(n.message) > 500 THEN left(n.message, 499) || '…' ELSE n.message END,
                   'event_id', n.event_id, 'created_at', ${isoSql('n.created_at')}, 'read', n.read_at IS NOT NULL)
                 ORDER BY n.created_at DESC), '[]')
          FROM (SELECT * FROM notifications ORDER BY created_at DESC LIMIT ${RECENT_NOTIFICATIONS}) AS n) AS notifications`,
      windowStart(ctx.now),
      startOfUtcDay(ctx.now),
    ),
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
    queue: { pending: counts!.pending, processing: counts!.processing, completed: counts!.completed },
    jobs: { total_today: counts!.total_today, recent_jobs: counts!.recent_jobs },
    notifications: { unread: counts!.unread, recent: counts!.notifications },
  };
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

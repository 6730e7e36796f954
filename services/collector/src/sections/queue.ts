import type { JobSummary, QueueSection, QueueStats } from '@agentos/contracts';
import type { SectionContext } from './context';
import { defaultPendingThreshold } from './configuration';
import { isoSql } from '@agentos/db';
import { jobSummariesSql, windowStart } from './jobs';

const AWAITING_FAILED = 10;
const AWAITING_PENDING = 10;

interface QueueRow {
  queues: { name: string; pending_threshold: number; paused: boolean }[];
  active: { queue: string; pending: number; processing: number; oldest: string | null }[];
  failed: { queue: string; failed: number }[];
  recent_failed: JobSummary[];
  oldest_pending: JobSummary[];
}

export async function buildQueue(ctx: SectionContext): Promise<QueueSection> {
  const [[row], defaultThreshold, recommended, brokerStats] = await Promise.all([
    // One statement: one round trip, one query to plan and parse.
    ctx.query<QueueRow>(
      `SELECT
         (SELECT coalesce(json_agg(json_build_object('name', name, 'pending_threshold', pending_threshold, 'paused', paused)), '[]')
          FROM queues) AS queues,
         -- The backlog from its rollup (migration 20261207010000_job_queue_counts), and each
         -- queue's oldest pending job from the partial index on active jobs (one entry each):
         -- a few rows however large the backlog grows.
         (SELECT coalesce(json_agg(a), '[]') FROM (
            SELECT c.queue,
                   coalesce(sum(c.jobs) FILTER (WHERE c.status = 'pending'), 0)::int AS pending,
                   coalesce(sum(c.jobs) FILTER (WHERE c.status = 'processing'), 0)::int AS processing,
                   ${isoSql("(SELECT j.created_at FROM jobs j WHERE j.queue = c.queue AND j.status = 'pending' ORDER BY j.created_at LIMIT 1)")} AS oldest
            FROM job_queue_counts c WHERE c.jobs > 0 GROUP BY c.queue) AS a) AS active,
         -- From the job rollups (migration 20261130080000_job_rollups): a few rows, not a scan.
         (SELECT coalesce(json_agg(f), '[]') FROM (
            SELECT queue, sum(jobs)::int AS failed FROM job_finished_hours
            WHERE hour >= $1 AND status = 'failed' GROUP BY queue) AS f) AS failed,
         -- Awaiting action: the latest failures, then the oldest pending jobs.
         ${jobSummariesSql(`SELECT * FROM jobs WHERE status = 'failed' AND finished_at >= $1 ORDER BY finished_at DESC LIMIT ${AWAITING_FAILED}`, 'j.finished_at DESC')} AS recent_failed,
         ${jobSummariesSql(`SELECT * FROM jobs WHERE status = 'pending' ORDER BY created_at LIMIT ${AWAITING_PENDING}`, 'j.created_at')} AS oldest_pending`,
      windowStart(ctx.now),
    ),
    defaultPendingThreshold(ctx),
    ctx.redis.hgetall(ctx.keys.scalingRecommendations),
    ctx.redis.hgetall(ctx.keys.queueStats),
  ]);
  const brokerBy = parseBrokerStats(brokerStats);

  const activeBy = new Map(row!.active.map((r) => [r.queue, r]));
  const failedBy = new Map(row!.failed.map((r) => [r.queue, r.failed]));
  const queues = row!.queues;
  const names = new Set([...queues.map((q) => q.name), ...activeBy.keys(), ...failedBy.keys(), ...brokerBy.keys()]);
  return {
    queues: [...names].sort().map((name) => {
      const record = queues.find((q) => q.name === name);
      const counts = activeBy.get(name);
      const threshold = record?.pending_threshold ?? defaultThreshold;
      const pending = counts?.pending ?? 0;
      return {
        name,
        pending,
        processing: counts?.processing ?? 0,
        failed: failedBy.get(name) ?? 0,
        oldest_pending_age_s: counts?.oldest ? Math.max(0, Math.round((ctx.now.getTime() - Date.parse(counts.oldest)) / 1000)) : null,
        pending_threshold: threshold,
        over_threshold: pending > threshold,
        paused: record?.paused ?? false,
        recommended_workers: recommended[name] === undefined ? null : Math.max(0, Math.round(Number(recommended[name])) || 0),
        broker: brokerBy.get(name) ?? null,
      };
    }),
    awaiting_action: [...row!.recent_failed, ...row!.oldest_pending],
  };
}

/** The `queue:stats` hash (live-state.ts in the dispatcher); an entry that does not parse is left out. */
function parseBrokerStats(raw: Record<string, string>): Map<string, NonNullable<QueueStats['broker']>> {
  const out = new Map<string, NonNullable<QueueStats['broker']>>();
  for (const [queue, json] of Object.entries(raw)) {
    try {
      const entry = JSON.parse(json) as { pending?: unknown; workers?: unknown; source?: unknown; at?: unknown };
      if (typeof entry.pending !== 'number' || typeof entry.source !== 'string' || typeof entry.at !== 'string') continue;
      out.set(queue, { pending: entry.pending, workers: typeof entry.workers === 'number' ? entry.workers : null, source: entry.source, at: entry.at });
    } catch {
      continue;
    }
  }
  return out;
}

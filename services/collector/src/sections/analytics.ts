import type { AnalyticsSection, JobStatus, SeriesPoint } from '@agentos/contracts';
import type { SectionContext } from './context';
import { round } from './dashboard';

interface Bucket {
  t: Date;
  total: number;
  completed: number;
  failed: number;
  cancelled: number;
}

/**
 * Success rate, processing time and the two time series, all over jobs created in the last 24 h,
 * aggregated in SQL. Missing buckets (no job in that minute or hour) are filled with zeros.
 */
export async function buildAnalytics(ctx: SectionContext): Promise<AnalyticsSection> {
  const now = ctx.now;
  const minuteEnd = truncate(now, 60_000);
  const hourEnd = truncate(now, 3_600_000);
  const minuteStart = new Date(minuteEnd.getTime() - 59 * 60_000);
  const hourStart = new Date(hourEnd.getTime() - 23 * 3_600_000);
  const dayAgo = new Date(now.getTime() - 24 * 3_600_000);

  const [[totals], byStatus, perMinute, perHour] = await Promise.all([
    ctx.prisma.$queryRaw<{ avg: number | null; p95: number | null }[]>`
      SELECT avg(duration_ms)::float8 AS avg,
             percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)::float8 AS p95
      FROM jobs WHERE created_at >= ${dayAgo} AND status = 'completed' AND duration_ms IS NOT NULL`,
    ctx.prisma.$queryRaw<{ status: JobStatus; n: number }[]>`
      SELECT status, count(*)::int AS n FROM jobs WHERE created_at >= ${dayAgo} GROUP BY status`,
    series(ctx, 'minute', minuteStart),
    series(ctx, 'hour', hourStart),
  ]);

  const counts: Record<JobStatus, number> = { pending: 0, processing: 0, completed: 0, failed: 0, cancelled: 0 };
  for (const row of byStatus) counts[row.status] = row.n;
  const finished = counts.completed + counts.failed;

  return {
    success_rate: finished === 0 ? null : round((counts.completed / finished) * 100, 2),
    avg_processing_time: totals?.avg == null ? null : round(totals.avg, 1),
    p95_processing_time: totals?.p95 == null ? null : round(totals.p95, 1),
    window_hours: 24,
    jobs_per_minute: fill(perMinute, minuteStart, 60_000, 60),
    jobs_per_hour: fill(perHour, hourStart, 3_600_000, 24),
    by_status: counts,
  };
}

function series(ctx: SectionContext, unit: 'minute' | 'hour', since: Date): Promise<Bucket[]> {
  // `unit` is one of two literals chosen above, never input, so interpolating it is safe.
  return ctx.prisma.$queryRawUnsafe<Bucket[]>(
    `SELECT date_trunc('${unit}', created_at) AS t,
            count(*)::int AS total,
            count(*) FILTER (WHERE status = 'completed')::int AS completed,
            count(*) FILTER (WHERE status = 'failed')::int AS failed,
            count(*) FILTER (WHERE status = 'cancelled')::int AS cancelled
     FROM jobs WHERE created_at >= $1 GROUP BY 1`,
    since,
  );
}

function fill(rows: Bucket[], start: Date, stepMs: number, points: number): SeriesPoint[] {
  const byTime = new Map(rows.map((row) => [new Date(row.t).getTime(), row]));
  const out: SeriesPoint[] = [];
  for (let i = 0; i < points; i += 1) {
    const t = start.getTime() + i * stepMs;
    const row = byTime.get(t);
    out.push({
      t: new Date(t).toISOString(),
      total: row?.total ?? 0,
      completed: row?.completed ?? 0,
      failed: row?.failed ?? 0,
      cancelled: row?.cancelled ?? 0,
    });
  }
  return out;
}

function truncate(date: Date, stepMs: number): Date {
  return new Date(Math.floor(date.getTime() / stepMs) * stepMs);
}

import type { AnalyticsSection, JobStatus, SeriesPoint } from '@agentos/contracts';
import type { SectionContext } from './context';
import { round } from './dashboard';

/**
 * Success rate, processing time and the two time series over the 24 hourly buckets ending now,
 * aggregated in SQL. The window is one index-only pass (created_at INCLUDE status,
 * duration_ms): grouped by hour and status, which the totals are then summed from, so
 * `by_status` and `jobs_per_hour` always agree. Missing buckets are filled with zeros.
 */
export async function buildAnalytics(ctx: SectionContext): Promise<AnalyticsSection> {
  const now = ctx.now;
  const minuteStart = new Date(truncate(now, 60_000).getTime() - 59 * 60_000);
  const hourStart = new Date(truncate(now, 3_600_000).getTime() - 23 * 3_600_000);

  const [perHour, perMinute, [p95]] = await Promise.all([
    grouped(ctx, 'hour', hourStart),
    grouped(ctx, 'minute', minuteStart),
    ctx.prisma.$queryRaw<{ p95: number | null }[]>`
      SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)::float8 AS p95
      FROM jobs WHERE created_at >= ${hourStart} AND status = 'completed' AND duration_ms IS NOT NULL`,
  ]);

  const counts: Record<JobStatus, number> = { pending: 0, processing: 0, completed: 0, failed: 0, cancelled: 0 };
  let durationSum = 0;
  let durationCount = 0;
  for (const row of perHour) {
    counts[row.status] += row.n;
    if (row.status === 'completed') {
      durationSum += row.duration_sum ?? 0;
      durationCount += row.duration_n;
    }
  }
  const finished = counts.completed + counts.failed;

  return {
    success_rate: finished === 0 ? null : round((counts.completed / finished) * 100, 2),
    avg_processing_time: durationCount === 0 ? null : round(durationSum / durationCount, 1),
    p95_processing_time: p95?.p95 == null ? null : round(p95.p95, 1),
    window_hours: 24,
    jobs_per_minute: fill(perMinute, minuteStart, 60_000, 60),
    jobs_per_hour: fill(perHour, hourStart, 3_600_000, 24),
    by_status: counts,
  };
}

interface Group {
  t: Date;
  status: JobStatus;
  n: number;
  duration_sum: number | null;
  duration_n: number;
}

function grouped(ctx: SectionContext, unit: 'minute' | 'hour', since: Date): Promise<Group[]> {
  // `unit` is one of two literals chosen above, never input, so interpolating it is safe.
  return ctx.prisma.$queryRawUnsafe<Group[]>(
    `SELECT date_trunc('${unit}', created_at) AS t, status, count(*)::int AS n,
            sum(duration_ms)::float8 AS duration_sum, count(duration_ms)::int AS duration_n
     FROM jobs WHERE created_at >= $1 GROUP BY 1, 2`,
    since,
  );
}

function fill(rows: Group[], start: Date, stepMs: number, points: number): SeriesPoint[] {
  const out: SeriesPoint[] = Array.from({ length: points }, (_, i) => ({
    t: new Date(start.getTime() + i * stepMs).toISOString(),
    total: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
  }));
  for (const row of rows) {
    const point = out[Math.round((new Date(row.t).getTime() - start.getTime()) / stepMs)];
    if (!point) continue;
    point.total += row.n;
    if (row.status === 'completed' || row.status === 'failed' || row.status === 'cancelled') point[row.status] += row.n;
  }
  return out;
}

function truncate(date: Date, stepMs: number): Date {
  return new Date(Math.floor(date.getTime() / stepMs) * stepMs);
}

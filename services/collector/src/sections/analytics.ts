import type { AnalyticsSection, JobStatus, SeriesPoint } from '@agentos/contracts';
import type { SectionContext } from './context';
import { epochMsSql } from '@agentos/db';
import { round } from './dashboard';
import { windowStart } from './jobs';

/**
 * Success rate, processing time and the two time series over the 24 hourly buckets ending now,
 * read from the job rollups (migration 20261130080000_job_rollups), which triggers keep exact in
 * the same transaction as every write to `jobs`: a few hundred rows whatever the job rate,
 * never a scan of the jobs themselves. `by_status` is summed from the hourly rows, so it always
 * agrees with `jobs_per_hour`; p95 comes from a duration histogram with 5 % buckets (within
 * 2.5 % of the exact percentile).
 */
export async function buildAnalytics(ctx: SectionContext): Promise<AnalyticsSection> {
  const now = ctx.now;
  const minuteStart = new Date(truncate(now, 60_000).getTime() - 59 * 60_000);
  const hourStart = windowStart(now);

  // One statement: one round trip, one query to plan and parse. Rows come back as arrays, their
  // bucket as epoch milliseconds: building, sending and parsing a few hundred objects with ISO
  // timestamps on every build cost PostgreSQL 1.3× and the collector 1.4× what this does
  // (bench:sections, BENCHMARKS.md 2026-12-07).
  const [row] = await ctx.query<{ per_hour: HourRow[]; per_minute: MinuteRow[]; histogram: [bucket: number, n: number][] }>(
    `SELECT
       (SELECT coalesce(json_agg(json_build_array(${epochMsSql('hour')}, status, jobs, duration_sum, durations)), '[]')
        FROM job_created_hours WHERE hour >= $1) AS per_hour,
       (SELECT coalesce(json_agg(json_build_array(${epochMsSql('minute')}, status, jobs)), '[]')
        FROM job_created_minutes WHERE minute >= $2) AS per_minute,
       (SELECT coalesce(json_agg(json_build_array(bucket, n) ORDER BY bucket), '[]')
        FROM (SELECT bucket, sum(jobs)::int AS n FROM job_duration_hours WHERE hour >= $1 GROUP BY bucket) AS b) AS histogram`,
    hourStart,
    minuteStart,
  );
  const { per_hour: perHour, per_minute: perMinute } = row!;
  const histogram = row!.histogram.map(([bucket, n]) => ({ bucket, n }));

  const counts: Record<JobStatus, number> = { pending: 0, processing: 0, completed: 0, failed: 0, cancelled: 0 };
  let durationSum = 0;
  let durationCount = 0;
  for (const [, status, n, sum, durations] of perHour) {
    counts[status] += n;
    if (status === 'completed') {
      durationSum += sum;
      durationCount += durations;
    }
  }
  const finished = counts.completed + counts.failed;
  const p95 = percentileOfHistogram(histogram, 0.95);

  return {
    success_rate: finished === 0 ? null : round((counts.completed / finished) * 100, 2),
    avg_processing_time: durationCount === 0 ? null : round(durationSum / durationCount, 1),
    p95_processing_time: p95 === null ? null : round(p95, 1),
    window_hours: 24,
    jobs_per_minute: fill(perMinute, minuteStart, 60_000, 60),
    jobs_per_hour: fill(perHour, hourStart, 3_600_000, 24),
    by_status: counts,
  };
}

/** Ratio between a duration histogram bucket's bounds (`ssot_duration_bucket`). */
const BUCKET_GROWTH = 1.05;

/**
 * The `q` percentile of a duration histogram (bucket b holds [1.05^b, 1.05^(b+1)) ms), read as
 * the geometric middle of the bucket it falls in; null for an empty histogram.
 */
export function percentileOfHistogram(buckets: readonly { bucket: number; n: number }[], q: number): number | null {
  const total = buckets.reduce((sum, b) => sum + b.n, 0);
  if (total <= 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (const { bucket, n } of buckets) {
    seen += n;
    if (seen >= rank) return bucket === 0 ? 1 : BUCKET_GROWTH ** (bucket + 0.5);
  }
  return BUCKET_GROWTH ** (buckets[buckets.length - 1]!.bucket + 0.5);
}

/** A `job_created_hours` row: bucket start (epoch ms), status, jobs, sum and count of their durations. */
type HourRow = [t: number, status: JobStatus, jobs: number, durationSum: number, durations: number];
/** A `job_created_minutes` row: bucket start (epoch ms), status, jobs. */
type MinuteRow = [t: number, status: JobStatus, jobs: number];

function fill(rows: readonly (HourRow | MinuteRow)[], start: Date, stepMs: number, points: number): SeriesPoint[] {
  const out: SeriesPoint[] = Array.from({ length: points }, (_, i) => ({
    t: new Date(start.getTime() + i * stepMs).toISOString(),
    total: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
  }));
  for (const [t, status, n] of rows) {
    const point = out[Math.round((t - start.getTime()) / stepMs)];
    if (!point) continue;
    point.total += n;
    if (status === 'completed' || status === 'failed' || status === 'cancelled') point[status] += n;
  }
  return out;
}

function truncate(date: Date, stepMs: number): Date {
  return new Date(Math.floor(date.getTime() / stepMs) * stepMs);
}

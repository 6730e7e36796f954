import { JOB_SUMMARY_JSON_SQL } from '@agentos/db';

/** SQL: the JSON array of the job summaries `rows` selects (a subquery of `jobs` rows), in `order`. */
export function jobSummariesSql(rows: string, order: string): string {
  return `(SELECT coalesce(json_agg(${JOB_SUMMARY_JSON_SQL} ORDER BY ${order}), '[]') FROM (${rows}) AS j)`;
}

/** Start of the UTC day of `now`. */
export function startOfUtcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

/** Start of the snapshot's 24-hour window: the 24 hourly buckets ending now, the current one partial. */
export function windowStart(now: Date): Date {
  return new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000 - 23 * 3_600_000);
}

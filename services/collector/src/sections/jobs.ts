import { isoSql } from '../serialize';

/** Longest `error` text a job summary carries; longer ones are cut with an ellipsis. */
const MAX_ERROR_CHARS = 500;

/**
 * SQL: the JSON of one `jobs` row (alias `j`) exactly as the snapshot lists it (JobSummary), so a
 * section reads its jobs in the same query as its counts, with no per-row mapping afterwards.
 */
const JOB_SUMMARY_JSON = `json_build_object(
  'id', j.id, 'source', j.source, 'queue', j.queue, 'type', j.type, 'status', j.status, 'user_id', j.user_id,
  'agent', j.agent, 'worker_id', j.worker_id, 'attempts', j.attempts, 'progress', j.progress,
  'error', CASE WHEN length(j.error) > ${MAX_ERROR_CHARS} THEN left(j.error, ${MAX_ERROR_CHARS - 1}) || '…' ELSE j.error END,
  'duration_ms', j.duration_ms, 'created_at', ${isoSql('j.created_at')}, 'started_at', ${isoSql('j.started_at')},
  'finished_at', ${isoSql('j.finished_at')})`;

/** SQL: the JSON array of the job summaries `rows` selects (a subquery of `jobs` rows), in `order`. */
export function jobSummariesSql(rows: string, order: string): string {
  return `(SELECT coalesce(json_agg(${JOB_SUMMARY_JSON} ORDER BY ${order}), '[]') FROM (${rows}) AS j)`;
}

/** Start of the UTC day of `now`. */
export function startOfUtcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

/** Start of the snapshot's 24-hour window: the 24 hourly buckets ending now, the current one partial. */
export function windowStart(now: Date): Date {
  return new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000 - 23 * 3_600_000);
}

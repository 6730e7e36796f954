// SQL fragments shared by the services that read the system of record as JSON written by
// PostgreSQL itself (one value per query, no per-row mapping in Node): the collector's sections
// and the api's job routes.

/**
 * SQL: a timestamptz column as the ISO 8601 UTC string Date#toISOString writes (milliseconds,
 * `Z`), or null.
 */
export function isoSql(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/**
 * SQL: a timestamptz column as epoch milliseconds, a bigint — for values inside JSON built by
 * PostgreSQL (a JSON number there, and far cheaper than `isoSql`); as a column of its own, pg
 * hands a bigint to Node as a string.
 */
export function epochMsSql(column: string): string {
  return `(extract(epoch FROM ${column}) * 1000)::bigint`;
}

/** Longest `error` text a job summary carries; longer ones are cut with an ellipsis. */
export const MAX_SUMMARY_ERROR_CHARS = 500;

/**
 * SQL: the JSON of one `jobs` row (alias `j`) exactly as the snapshot lists it (contracts'
 * JobSummary), `error` clipped to MAX_SUMMARY_ERROR_CHARS.
 */
export const JOB_SUMMARY_JSON_SQL = `json_build_object(
  'id', j.id, 'source', j.source, 'queue', j.queue, 'type', j.type, 'status', j.status, 'user_id', j.user_id,
  'agent', j.agent, 'worker_id', j.worker_id, 'attempts', j.attempts, 'progress', j.progress,
  'error', CASE WHEN length(j.error) > ${MAX_SUMMARY_ERROR_CHARS} THEN left(j.error, ${MAX_SUMMARY_ERROR_CHARS - 1}) || '…' ELSE j.error END,
  'duration_ms', j.duration_ms, 'created_at', ${isoSql('j.created_at')}, 'started_at', ${isoSql('j.started_at')},
  'finished_at', ${isoSql('j.finished_at')})`;

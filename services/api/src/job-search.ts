import { JOB_SEARCH_DEFAULT_LIMIT, type JobFilter, jobSearchQuery, jobStatus, opaqueId } from '@agentos/contracts';
import { isoSql, JOB_SUMMARY_JSON_SQL } from '@agentos/db';
import { ValidationError } from '@agentos/runtime';
import type { z } from 'zod';

/**
 * Job search (CONTRACT §4): the query string checked into a filter, the keyset cursor, and the
 * SQL that reads one page in index order.
 *
 * Order is newest first, `created_at DESC, id DESC` (the id breaks ties, so the order is total and
 * a cursor names one place in it). The cursor is the last row's sort key, base64url JSON
 * `[created_at, id]`; the next page is the rows strictly after it, so pages never overlap or skip
 * a row that was there all along, however many rows share a `created_at`.
 *
 * The query is split per status — the statuses asked for, else all five — and each part reads
 * `LIMIT n` rows of one status in index order; a Merge Append interleaves them, pulling only as
 * many rows as the page needs. That lets one status-led index serve a filter alone and with any
 * statuses: `(status, created_at)`, `(status, queue, created_at)`, `(status, agent, created_at)`,
 * `(status, worker_id, created_at)`, `(status, source, created_at)`; `user_id` uses
 * `(user_id, created_at DESC)`, `q` a trigram index per status (migrations 20261203100000_job_search,
 * 20261203130000_job_search_text_per_status).
 */

/** A position in the search order: the sort key of the last row of a page. */
export interface JobKey {
  /** ISO 8601, milliseconds, as `created_at` is stored (timestamptz(3)). */
  createdAt: string;
  id: string;
}

export interface JobSearch {
  filter: JobFilter;
  limit: number;
  after?: JobKey;
}

/** What a bad request is told when its query string fails: one line per problem. */
export interface QueryProblem {
  field: string;
  message: string;
}

/**
 * The search a query string asks for. ValidationError (400) naming every problem: an unknown or
 * repeated parameter, a bad filter value, a `limit` outside 1–500, a cursor this api did not give
 * out. Percent-escapes were checked by the request door already.
 */
export function parseJobSearch(params: URLSearchParams): JobSearch {
  const problems: QueryProblem[] = [];
  const raw: Record<string, string> = {};
  for (const [name, value] of params) {
    if (Object.prototype.hasOwnProperty.call(raw, name)) problems.push({ field: name, message: 'given more than once (list statuses comma separated)' });
    else raw[name] = value;
  }
  const parsed = jobSearchQuery.safeParse(raw);
  if (!parsed.success) problems.push(...parsed.error.issues.flatMap((issue) => toProblems(issue)));
  let after: JobKey | undefined;
  if (parsed.success && parsed.data.cursor !== undefined) {
    after = decodeCursor(parsed.data.cursor);
    if (!after) problems.push({ field: 'cursor', message: 'not a cursor this api gave out' });
  }
  if (problems.length > 0 || !parsed.success) throw new ValidationError(`invalid job search: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`, problems);
  const { limit, cursor: _cursor, ...filter } = parsed.data;
  return { filter: stripUndefined(filter), limit: limit ?? JOB_SEARCH_DEFAULT_LIMIT, ...(after ? { after } : {}) };
}

/** zod issues as the error's `details`; an unknown key is named as the field itself. */
export function toProblems(issue: z.core.$ZodIssue, unknown = 'unknown parameter'): QueryProblem[] {
  const at = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ field: clip([...at, key].join('.')), message: unknown }));
  return [{ field: at.join('.') || '(body)', message: issue.message }];
}

export function encodeCursor(key: JobKey): string {
  return Buffer.from(JSON.stringify([key.createdAt, key.id])).toString('base64url');
}

const STORED_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The key a cursor holds, or undefined for anything this api could not have written. */
export function decodeCursor(cursor: string): JobKey | undefined {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(decoded) || decoded.length !== 2) return undefined;
  const [createdAt, id] = decoded as unknown[];
  if (typeof createdAt !== 'string' || !STORED_TIME.test(createdAt) || Number.isNaN(Date.parse(createdAt))) return undefined;
  if (!opaqueId.safeParse(id).success) return undefined;
  return { createdAt, id: id as string };
}

/** SQL with its parameters. */
export interface Statement {
  sql: string;
  params: unknown[];
}

/**
 * The conditions of `filter` (and of a position to start after) on `jobs j`, statuses aside,
 * with their parameters appended to `params`.
 */
export function filterConditions(filter: JobFilter, after: JobKey | undefined, params: unknown[]): string[] {
  const param = (value: unknown, type: string) => {
    params.push(value);
    return `$${params.length}::${type}`;
  };
  const conditions: string[] = [];
  for (const [field, column] of [
    ['queue', 'queue'],
    ['agent', 'agent'],
    ['user_id', 'user_id'],
    ['worker_id', 'worker_id'],
    ['source', 'source'],
  ] as const) {
    const value = filter[field];
    if (value !== undefined) conditions.push(`j.${column} = ${param(value, 'text')}`);
  }
  if (filter.q !== undefined) conditions.push(textCondition(filter.q, params));
  if (filter.from !== undefined) conditions.push(`j.created_at >= ${param(filter.from, 'timestamptz')}`);
  if (filter.to !== undefined) conditions.push(`j.created_at < ${param(filter.to, 'timestamptz')}`);
  // A row comparison: the index reads from `created_at <= key` and the id settles the ties.
  if (after) conditions.push(`(j.created_at, j.id) < (${param(after.createdAt, 'timestamptz')}, ${param(after.id, 'text')})`);
  return conditions;
}

/** `q` as a condition on `jobs j`, its pattern appended to `params`. */
function textCondition(q: string, params: unknown[]): string {
  params.push(`%${escapeLike(q)}%`);
  // ILIKE over both columns: each side is a condition the trigram index answers (a BitmapOr).
  return `(j.type ILIKE $${params.length}::text OR j.error ILIKE $${params.length}::text)`;
}

/** Runs one statement; resolves with its rows. */
export type RunSql = <T>(sql: string, params: unknown[]) => Promise<T[]>;

/** Rows of the newest jobs of the other filters a text search checks first, one by one. */
export function textWindow(take: number): number {
  return Math.max(1_000, 10 * take);
}

/**
 * How much deeper than the rate seen in the window says the page needs the second step reaches:
 * the rate of a text that turned up a few times in a window is a rough one, and a range that falls
 * short costs a third statement.
 */
const TEXT_RANGE_MARGIN = 3;

/** The deepest second step, in windows' worth of time. */
const MAX_TEXT_RANGE_WINDOWS = 50;

/**
 * What reading a job from the trigram index costs against checking one in index order (a bitmap
 * heap fetch and a sort, against the next row of a walk): measured on 1,000,000 jobs, ~3.
 */
const INDEX_READ_COST = 3;

/**
 * The newest `take` jobs matching `filter` after `after`, newest first: the value of `item`, an
 * SQL expression over `jobs j` (a JobSummary by default).
 *
 * Without `q`: one statement, split per status (above). With `q` a text condition joins in whose
 * share of the rows the planner misjudges per status: it knows how often a text occurs, not on
 * which statuses (an error text is on failed jobs only), so it would walk every completed job for
 * "completed jobs mentioning timeout", or read every failed match of a text from the trigram
 * index where a short walk of the failed jobs finds the page. So a text search decides itself,
 * from what it sees, and each step reads a bounded number of rows:
 *   1. the newest `textWindow(take)` jobs of the other filters, read in index order, are checked
 *      for the text: a common text fills the page here;
 *   2. if the text was found, but too rarely to fill the page, the window's rate (matches per job)
 *      and pace (jobs per millisecond) say how far back in time the page fills; that stretch,
 *      `TEXT_RANGE_MARGIN` times as deep (at most `MAX_TEXT_RANGE_WINDOWS` windows), is read per
 *      status. A status is walked in index order until the page fills where the walk is the
 *      cheaper way by the window's counts (the jobs the walk needs at the status's rate, against
 *      its matches in all the history at that rate, `INDEX_READ_COST` each); any other status
 *      has its matches taken from its trigram index and those in the stretch kept;
 *   3. whatever is still missing, or everything when the window held no match, comes from the
 *      trigram indexes: the matches older than what was read, collected and sorted. Each status
 *      has its own (migration 20261203130000_job_search_text_per_status), so a status the text is
 *      not on costs an empty index lookup, and a text that rare in the newest jobs has few matches.
 */
export async function findJobs<T>(run: RunSql, search: { filter: JobFilter; after?: JobKey; take: number }, item: string = JOB_SUMMARY_JSON_SQL): Promise<T[]> {
  const { q, ...rest } = search.filter;
  if (q === undefined) {
    const { sql, params } = splitByStatus(rest, search.after, search.take, `${item} AS item`);
    return (await run<{ item: T }>(sql, params)).map((row) => row.item);
  }
  const window = await walkWindow<T>(run, { ...rest, q }, search.after, textWindow(search.take), search.take, item);
  if (window.found.length >= search.take || !window.edge) return window.found;

  const found = [...window.found];
  const read = async (filter: JobFilter & { q: string }, range?: { since: string; walked: ReadonlySet<string> }) => {
    const { sql, params } = textStatement(filter, window.edge, search.take - found.length, `${item} AS item`, range);
    found.push(...(await run<{ item: T }>(sql, params)).map((row) => row.item));
  };
  const text = { ...search.filter, q };
  const fromMs = search.filter.from === undefined ? -Infinity : Date.parse(search.filter.from);
  let older = text;
  if (found.length > 0) {
    const needed = search.take - found.length;
    const spanMs = Math.max(window.spanMs, 1);
    const edgeMs = Date.parse(window.edge.createdAt);
    const since = Math.max(edgeMs - Math.ceil(Math.min((TEXT_RANGE_MARGIN * needed) / found.length, MAX_TEXT_RANGE_WINDOWS) * spanMs), fromMs);
    // The history behind the edge, in windows' worth of time: a status has `matches` in each.
    const history = Math.max(edgeMs - Math.max(window.oldestMs, fromMs), 0) / spanMs;
    const walked = window.statuses.filter(({ jobs, matches }) => matches > 0 && (needed * jobs) / matches <= INDEX_READ_COST * matches * history);
    await read(text, { since: new Date(since).toISOString(), walked: new Set(walked.map(({ status }) => status)) });
    if (found.length >= search.take || since <= fromMs) return found;
    // The rest is strictly older than the range: `created_at < since` against its `>= since`.
    older = { ...text, to: new Date(since).toISOString() };
  }
  await read(older);
  return found;
}

/** Of a window, per status: its jobs, and how many of them hold the text. */
interface WindowStatus {
  status: string;
  jobs: number;
  matches: number;
}

/**
 * The newest `window` jobs of `filter` without its text, after `after`, in index order, and of
 * them the first `take` that hold the text. `edge` is the last job read when the window was full
 * (where a further step goes on from), undefined when the filter has no more rows; `spanMs` the
 * time from the window's oldest job to its newest, `oldestMs` the oldest job's time (of all).
 */
async function walkWindow<T>(
  run: RunSql,
  filter: JobFilter & { q: string },
  after: JobKey | undefined,
  window: number,
  take: number,
  item: string,
): Promise<{ found: T[]; edge?: JobKey; spanMs: number; oldestMs: number; statuses: WindowStatus[] }> {
  const { q, ...rest } = filter;
  const params: unknown[] = [];
  const recent = splitByStatus(rest, after, window, 'j.*', params);
  const text = textCondition(q, params);
  params.push(take);
  const [row] = await run<{
    found: T[] | null;
    rows: number;
    edge_at: string | null;
    edge_id: string | null;
    span_ms: number | null;
    oldest_ms: number | null;
    statuses: WindowStatus[] | null;
  }>(
    `WITH w AS MATERIALIZED (SELECT j.*, ${text} AS hit FROM (${recent.sql}) j),
          edge AS (SELECT created_at, id FROM w ORDER BY created_at, id LIMIT 1)
     SELECT (SELECT json_agg(page.item ORDER BY page.created_at DESC, page.id DESC)
               FROM (SELECT ${item} AS item, j.created_at, j.id FROM w j WHERE j.hit
                     ORDER BY j.created_at DESC, j.id DESC LIMIT $${params.length}::int) AS page) AS found,
            (SELECT count(*)::int FROM w) AS rows,
            (SELECT ${isoSql('created_at')} FROM edge) AS edge_at,
            (SELECT id FROM edge) AS edge_id,
            (SELECT (extract(epoch FROM max(created_at) - min(created_at)) * 1000)::float8 FROM w) AS span_ms,
            (SELECT (extract(epoch FROM min(created_at)) * 1000)::float8 FROM jobs) AS oldest_ms,
            (SELECT json_agg(json_build_object('status', s.status, 'jobs', s.jobs, 'matches', s.matches))
               FROM (SELECT j.status, count(*)::int AS jobs, (count(*) FILTER (WHERE j.hit))::int AS matches
                     FROM w j GROUP BY j.status) AS s) AS statuses`,
    params,
  );
  const found = row?.found ?? [];
  const seen = { spanMs: row?.span_ms ?? 0, oldestMs: row?.oldest_ms ?? 0, statuses: row?.statuses ?? [] };
  const full = row !== undefined && row.rows >= window && row.edge_at !== null && row.edge_id !== null;
  return full ? { found, edge: { createdAt: row.edge_at!, id: row.edge_id! }, ...seen } : { found, ...seen };
}

/**
 * A text search's statement past its window: the newest `take` jobs of `filter` after `after`,
 * one part per status, merged; with a `range`, only those created since `range.since`. A status in
 * `range.walked` is read in index order from there and its jobs checked for the text one by one
 * until `take` match: the text is applied outside a fence (OFFSET 0), so the planner cannot trade
 * the walk for the trigram index, and the walk is planned for its first rows (the subquery's
 * order is kept). Any other status has its matches read from its trigram index (the fence the
 * other way round: planned for every match, not for the first in created_at order, and the range
 * applied to what it found) and sorted.
 */
function textStatement(filter: JobFilter & { q: string }, after: JobKey | undefined, take: number, select: string, range?: { since: string; walked: ReadonlySet<string> }): Statement {
  const { q, ...rest } = filter;
  const params: unknown[] = [];
  const conditions = filterConditions(rest, after, params);
  const text = textCondition(q, params);
  if (range) params.push(range.since);
  const since = range ? `j.created_at >= $${params.length}::timestamptz` : undefined;
  params.push(take);
  const limit = `$${params.length}::int`;
  const order = 'ORDER BY j.created_at DESC, j.id DESC';
  const parts = (filter.status ?? jobStatus.options).map((status) => {
    if (since && range?.walked.has(status)) {
      const [part] = statusParts([status], [...conditions, since]);
      return `(SELECT * FROM (${part} ${order} OFFSET 0) j WHERE ${text} LIMIT ${limit})`;
    }
    const [part] = statusParts([status], [...conditions, text]);
    return `(SELECT * FROM (${part} OFFSET 0) j${since ? ` WHERE ${since}` : ''} ${order} LIMIT ${limit})`;
  });
  return { sql: `SELECT ${select} FROM (${parts.join(' UNION ALL ')}) j ${order} LIMIT ${limit}`, params };
}

/**
 * The statement of a search without `q`: one part per status, each `LIMIT take` rows in index
 * order, merged. `params` may already hold parameters (numbered on from them).
 */
function splitByStatus(filter: Omit<JobFilter, 'q'>, after: JobKey | undefined, take: number, select: string, params: unknown[] = []): Statement {
  const conditions = filterConditions(filter, after, params);
  params.push(take);
  const limit = `$${params.length}::int`;
  const parts = statusParts(filter.status, conditions).map((part) => `(${part} ORDER BY j.created_at DESC, j.id DESC LIMIT ${limit})`);
  return { sql: `SELECT ${select} FROM (${parts.join(' UNION ALL ')}) j ORDER BY j.created_at DESC, j.id DESC LIMIT ${limit}`, params };
}

/**
 * `SELECT j.* FROM jobs j WHERE j.status = s AND <conditions>` for each status asked for, else
 * all five. Statuses are literals, from the enum: each part is planned for its own status (its
 * share of the rows, and which index reads it best), and only a literal status lets the planner
 * take that status's partial trigram index.
 */
function statusParts(statuses: JobFilter['status'], conditions: string[]): string[] {
  const where = conditions.map((condition) => ` AND ${condition}`).join('');
  return (statuses ?? jobStatus.options).map((status) => `SELECT j.* FROM jobs j WHERE j.status = '${jobStatus.parse(status)}'${where}`);
}

/** Counts the jobs `filter` matches, up to `limit`: one statement, split per status too. */
export function countJobs(filter: JobFilter, limit: number): Statement {
  const params: unknown[] = [];
  const conditions = filterConditions(filter, undefined, params);
  params.push(limit);
  const parts = statusParts(filter.status, conditions).map((part) => `(${part} LIMIT $${params.length}::int)`);
  return { sql: `SELECT count(*)::int AS n FROM (SELECT 1 FROM (${parts.join(' UNION ALL ')}) j LIMIT $${params.length}::int) AS matching`, params };
}

/** `q` as a LIKE pattern's literal text: `%`, `_` and the escape character itself escaped. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

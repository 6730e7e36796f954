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
 * `(user_id, created_at DESC)`, `q` the trigram index (migration 20261203100000_job_search).
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
  if (filter.q !== undefined) {
    // ILIKE over both columns: each side is a condition the trigram index answers (a BitmapOr).
    const pattern = param(`%${escapeLike(filter.q)}%`, 'text');
    conditions.push(`(j.type ILIKE ${pattern} OR j.error ILIKE ${pattern})`);
  }
  if (filter.from !== undefined) conditions.push(`j.created_at >= ${param(filter.from, 'timestamptz')}`);
  if (filter.to !== undefined) conditions.push(`j.created_at < ${param(filter.to, 'timestamptz')}`);
  // A row comparison: the index reads from `created_at <= key` and the id settles the ties.
  if (after) conditions.push(`(j.created_at, j.id) < (${param(after.createdAt, 'timestamptz')}, ${param(after.id, 'text')})`);
  return conditions;
}

/** Runs one statement; resolves with its rows. */
export type RunSql = <T>(sql: string, params: unknown[]) => Promise<T[]>;

/** Rows of the newest jobs of the other filters a text search checks first, one by one. */
export function textWindow(take: number): number {
  return Math.max(1_000, 10 * take);
}

/** Most rows a text search checks one by one, in all, before it asks the trigram index. */
const MAX_TEXT_WALK_FACTOR = 9;

/**
 * The newest `take` jobs matching `filter` after `after`, newest first: the value of `item`, an
 * SQL expression over `jobs j` (a JobSummary by default).
 *
 * Without `q`: one statement, split per status (above). With `q` a text condition joins in whose
 * share of the rows the planner can misjudge badly once other filters are there (an error text
 * appears on failed jobs only, so "completed jobs mentioning timeout" would walk every completed
 * job in created_at order, looking for a match that is never there). So a text search decides
 * itself, from what it sees, and each step is bounded whatever the text:
 *   1. the newest `textWindow(take)` jobs of the other filters, read in index order, are checked
 *      for the text: a common text fills the page here;
 *   2. if the text was found, but too rarely to fill the page, and the rate it was found at says
 *      the page fills within `MAX_TEXT_WALK_FACTOR` windows, the walk goes on that far;
 *   3. otherwise the rest comes from the trigram index: the text's matches older than what was
 *      walked, collected through the index (a bitmap) and sorted. A text found that rarely has few
 *      matches, so this reads few rows.
 */
export async function findJobs<T>(run: RunSql, search: { filter: JobFilter; after?: JobKey; take: number }, item: string = JOB_SUMMARY_JSON_SQL): Promise<T[]> {
  const { q, ...rest } = search.filter;
  if (q === undefined) {
    const { sql, params } = splitByStatus(rest, search.after, search.take, `${item} AS item`);
    return (await run<{ item: T }>(sql, params)).map((row) => row.item);
  }
  const found: T[] = [];
  let after = search.after;
  let window = textWindow(search.take);
  for (let walked = 0; walked < MAX_TEXT_WALK_FACTOR * textWindow(search.take); ) {
    const step = await walkWindow<T>(run, { ...rest, q }, after, window, search.take - found.length, item);
    found.push(...step.found);
    walked += window;
    if (found.length >= search.take || !step.edge) return found;
    after = step.edge;
    // Windows go on only while the text's rate so far says the page fills within the walk's bound.
    const needed = ((search.take - found.length) * walked) / Math.max(found.length, 1);
    if (found.length === 0 || walked + needed > MAX_TEXT_WALK_FACTOR * textWindow(search.take)) break;
    window = Math.min(Math.ceil(needed), MAX_TEXT_WALK_FACTOR * textWindow(search.take) - walked);
  }

  // The subquery is a fence (OFFSET 0): planned for all its rows rather than for the first few in
  // created_at order, it reads the trigram index's matches instead of walking the table.
  const params: unknown[] = [];
  const conditions = [...statusCondition(search.filter.status), ...filterConditions(search.filter, after, params)];
  params.push(search.take - found.length);
  const more = await run<{ item: T }>(
    `SELECT ${item} AS item FROM (SELECT j.* FROM jobs j WHERE ${conditions.join(' AND ')} OFFSET 0) j
     ORDER BY j.created_at DESC, j.id DESC LIMIT $${params.length}::int`,
    params,
  );
  return [...found, ...more.map((row) => row.item)];
}

/**
 * The newest `window` jobs of `filter` without its text, after `after`, in index order, and of
 * them the first `take` that hold the text. `edge` is the last job read when the window was full
 * (where a further step goes on from), undefined when the filter has no more rows.
 */
async function walkWindow<T>(run: RunSql, filter: JobFilter & { q: string }, after: JobKey | undefined, window: number, take: number, item: string): Promise<{ found: T[]; edge?: JobKey }> {
  const { q, ...rest } = filter;
  const params: unknown[] = [];
  const recent = splitByStatus(rest, after, window, 'j.*', params);
  const [text] = filterConditions({ q }, undefined, params);
  params.push(take);
  const [row] = await run<{ found: T[] | null; rows: number; edge_at: string | null; edge_id: string | null }>(
    `WITH w AS MATERIALIZED (${recent.sql}),
          edge AS (SELECT created_at, id FROM w ORDER BY created_at, id LIMIT 1)
     SELECT (SELECT json_agg(page.item ORDER BY page.created_at DESC, page.id DESC)
               FROM (SELECT ${item} AS item, j.created_at, j.id FROM w j WHERE ${text}
                     ORDER BY j.created_at DESC, j.id DESC LIMIT $${params.length}::int) AS page) AS found,
            (SELECT count(*)::int FROM w) AS rows,
            (SELECT ${isoSql('created_at')} FROM edge) AS edge_at,
            (SELECT id FROM edge) AS edge_id`,
    params,
  );
  const found = row?.found ?? [];
  const full = row !== undefined && row.rows >= window && row.edge_at !== null && row.edge_id !== null;
  return full ? { found, edge: { createdAt: row.edge_at!, id: row.edge_id! } } : { found };
}

/**
 * The statement of a search without `q`: one part per status, each `LIMIT take` rows in index
 * order, merged. `params` may already hold parameters (numbered on from them).
 */
function splitByStatus(filter: Omit<JobFilter, 'q'>, after: JobKey | undefined, take: number, select: string, params: unknown[] = []): Statement {
  const conditions = filterConditions(filter, after, params);
  params.push(take);
  const limit = `$${params.length}::int`;
  const where = conditions.map((condition) => ` AND ${condition}`).join('');
  // Statuses are literals, from the enum: each part is planned for its own status (its share of
  // the rows, and which index reads it best).
  const parts = (filter.status ?? jobStatus.options).map(
    (status) => `(SELECT j.* FROM jobs j WHERE j.status = '${jobStatus.parse(status)}'${where} ORDER BY j.created_at DESC, j.id DESC LIMIT ${limit})`,
  );
  return { sql: `SELECT ${select} FROM (${parts.join(' UNION ALL ')}) j ORDER BY j.created_at DESC, j.id DESC LIMIT ${limit}`, params };
}

/** `j.status IN (…)` for the statuses asked for; nothing for none. */
export function statusCondition(statuses: JobFilter['status']): string[] {
  return statuses ? [`j.status IN (${statuses.map((s) => `'${jobStatus.parse(s)}'`).join(', ')})`] : [];
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

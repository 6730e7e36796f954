import type { JobStatus, JobSummary } from '@agentos/contracts';
import { type ApiClient } from './api-client';

/**
 * Job search (`GET /api/admin/jobs`, CONTRACT §4): the filters, kept in the page's URL so a
 * view can be shared, and keyset pages loaded as the table scrolls.
 */

/** Every filter of the search route, in the order the form shows them. */
export const JOB_FILTER_KEYS = ['q', 'status', 'queue', 'agent', 'source', 'user_id', 'worker_id', 'from', 'to'] as const;
export type JobFilterKey = (typeof JOB_FILTER_KEYS)[number];
/** Filter → value; a filter not set is absent. `from`/`to` are ISO 8601 times (created time). */
export type JobFilters = Partial<Record<JobFilterKey, string>>;

export const JOB_STATUSES: readonly JobStatus[] = ['pending', 'processing', 'completed', 'failed', 'cancelled'];

/** One page: the jobs in the route's order and the cursor of the next page (null on the last). */
export interface JobsPage {
  items: JobSummary[];
  next_cursor: string | null;
}

/** Rows per request: a few screens of the table. @default 200 */
export const JOBS_PAGE_SIZE = 200;

/** The filters in a query string (`?status=failed&queue=ingest`); unknown or empty parameters are ignored. */
export function filtersFromSearch(search: string | URLSearchParams): JobFilters {
  const params = typeof search === 'string' ? new URLSearchParams(search) : search;
  const filters: JobFilters = {};
  for (const key of JOB_FILTER_KEYS) {
    const value = params.get(key)?.trim();
    if (value) filters[key] = value;
  }
  return filters;
}

/**
 * `params` with the filters written in (set ones replaced, unset ones removed), the other
 * parameters (the open job, say) kept. Always in `JOB_FILTER_KEYS` order, so one search has one URL.
 */
export function filtersToSearch(filters: JobFilters, params: URLSearchParams = new URLSearchParams()): URLSearchParams {
  const out = new URLSearchParams();
  for (const [key, value] of params) if (!(JOB_FILTER_KEYS as readonly string[]).includes(key)) out.append(key, value);
  for (const key of JOB_FILTER_KEYS) {
    const value = filters[key]?.trim();
    if (value) out.set(key, value);
  }
  return out;
}

/** The filters with empty values dropped, keys in a fixed order: one cache entry per search. */
export function normaliseFilters(filters: JobFilters): JobFilters {
  return filtersFromSearch(filtersToSearch(filters));
}

/** The key every search's is under (one per set of filters). */
export const JOBS_SEARCH_KEY = ['jobs', 'search'] as const;
export const jobsSearchKey = (filters: JobFilters) => [...JOBS_SEARCH_KEY, normaliseFilters(filters)] as const;

/** The request path of one page. */
export function jobsPagePath(filters: JobFilters, cursor: string | null, limit = JOBS_PAGE_SIZE): string {
  const params = filtersToSearch(filters);
  params.set('limit', String(limit));
  if (cursor) params.set('cursor', cursor);
  return `/api/admin/jobs?${params}`;
}

export async function fetchJobsPage(api: ApiClient, filters: JobFilters, cursor: string | null, signal?: AbortSignal, limit = JOBS_PAGE_SIZE): Promise<JobsPage> {
  const page = await api.get<JobsPage>(jobsPagePath(filters, cursor, limit), signal);
  return { items: page.items ?? [], next_cursor: page.next_cursor ?? null };
}

/** Options for `useInfiniteQuery`: one entry per search, pages appended as the table asks. */
export function jobsSearchQuery(api: ApiClient, filters: JobFilters) {
  const normalised = normaliseFilters(filters);
  return {
    queryKey: jobsSearchKey(normalised),
    queryFn: ({ pageParam, signal }: { pageParam: string | null; signal: AbortSignal }) => fetchJobsPage(api, normalised, pageParam, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last: JobsPage): string | undefined => last.next_cursor ?? undefined,
    // The list is a search: it moves when asked (or when a job it shows changes), not on a timer.
    staleTime: 30_000,
  };
}

/** The rows of every page loaded so far, in order, and the pages they were read from. */
export interface LoadedRows {
  readonly pages: readonly JobsPage[];
  readonly rows: readonly JobSummary[];
}

const NO_ROWS: LoadedRows = { pages: [], rows: [] };

/**
 * The rows of `pages`, in order. Given the answer for the pages before (`previous`), pages
 * appended since cost only their own rows: scrolling through 200,000 jobs loads 1,000 pages, and
 * flattening all of them again for each new one is quadratic (20 ms a page at the end).
 */
export function rowsOf(pages: readonly JobsPage[] | undefined, previous: LoadedRows = NO_ROWS): LoadedRows {
  if (!pages || pages.length === 0) return NO_ROWS;
  if (pages === previous.pages) return previous;
  const kept = previous.pages.length;
  const appended = kept > 0 && kept <= pages.length && previous.pages.every((page, i) => page === pages[i]);
  if (appended && kept === pages.length) return previous;
  const start = appended ? kept : 0;
  let rows: JobSummary[] = appended ? (previous.rows as JobSummary[]) : [];
  for (let i = start; i < pages.length; i += 1) rows = rows.concat(pages[i]!.items);
  return { pages, rows };
}

/** `status` as the route takes it: a comma-separated list (`failed,cancelled`). */
export const statusList = (value: string | undefined): string[] => (value ? value.split(',').filter(Boolean) : []);

/** Letters or digits in a row that `q` must hold (the api's trigram index needs them; it answers 400 otherwise). */
export const MIN_TERM = 3;
const TERM = new RegExp(`[\\p{L}\\p{N}]{${MIN_TERM}}`, 'u');
/** Whether the api will take `q`. */
export const searchableText = (q: string): boolean => TERM.test(q);

/** How many filters are set (the bulk action's confirmation says "all jobs" when none is). */
export const activeFilterCount = (filters: JobFilters): number => Object.keys(normaliseFilters(filters)).length;

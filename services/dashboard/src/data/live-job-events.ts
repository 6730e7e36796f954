import type { CentralDataService } from '@agentos/client';
import type { JobDetail, JobSummary } from '@agentos/contracts';
import type { InfiniteData, QueryClient } from '@tanstack/query-core';
import { jobDetailKey, withCommandResult } from './job-detail';
import { JOBS_SEARCH_KEY, type JobsPage } from './jobs-search';

type EventSource = Pick<CentralDataService, 'on'>;

const JOB_EVENTS = ['job:new', 'job:progress', 'job:done', 'job:error', 'job:cancelled'] as const;

/** Command results remembered, so a detail fetched after one still shows it (see below). */
const REMEMBERED_RESULTS = 1000;

/**
 * When a detail fetched after a job event does not list that event yet, how long to wait before
 * each further fetch; after the last, the detail is left as fetched. The dispatcher commits a
 * batch one pacing interval (EVENT_MIN_INTERVAL_MS, 35 ms) plus its persist after publishing its
 * socket messages, a few intervals under load: the first retries cover that, the later ones a
 * dispatcher that is retrying its persist.
 */
export const CONFIRM_DELAYS_MS = [50, 100, 250, 500, 1000, 2000] as const;

/**
 * Keeps cached job details current from the socket: an event about a job refreshes its detail
 * (if it is cached), and a `command:result` marks its command done at once, before the refetch
 * brings the job's new state. Searches are not refetched on every event (a list that moves under
 * the reader's eyes is unreadable); they refresh when asked. Returns the function that stops it.
 *
 * A socket message can arrive before its effect is committed (the dispatcher publishes beside
 * the persist, CONTRACT §6), so a detail fetched on it may not show it yet:
 * - a job event: the latest heard for each job is awaited, and while a fetched detail's history
 *   does not list it, the detail is fetched again, after each of CONFIRM_DELAYS_MS in turn;
 * - a `command:result`: the results heard are remembered and applied again to every detail
 *   fetched afterwards, so a command's outcome, once heard, is never shown as pending again.
 *
 * A job's row in a loaded search shows what its fetched detail shows (status, attempts, times…),
 * so the open job and its row never disagree; the search itself is not refetched.
 */
export function followJobEvents(service: EventSource, queryClient: QueryClient): () => void {
  const results = new Map<string, { jobId: string; result: { command_id: string; ok: boolean; error?: string | null }; at: string }>();
  /** By job: the latest event heard that its cached detail did not list yet, and the refetches it has cost. */
  const awaited = new Map<string, { eventId: string; tries: number; timer: ReturnType<typeof setTimeout> | null }>();
  const refresh = (jobId: string): boolean => {
    const key = jobDetailKey(jobId);
    if (queryClient.getQueryData(key) === undefined) return false;
    void queryClient.invalidateQueries({ queryKey: key, exact: true });
    return true;
  };
  const forget = (jobId: string) => {
    const waiting = awaited.get(jobId);
    if (waiting?.timer) clearTimeout(waiting.timer);
    awaited.delete(jobId);
  };
  /** Called with every detail fetched: fetches it again later while it does not list the event awaited. */
  const confirm = (detail: JobDetail) => {
    const waiting = awaited.get(detail.id);
    if (!waiting || waiting.timer) return;
    const listed = detail.events.some((e) => e.id === waiting.eventId);
    // A history longer than the api lists (MAX_JOB_HISTORY, oldest first) cannot show the event.
    const clipped = detail.events_total > detail.events.length;
    if (listed || clipped || waiting.tries >= CONFIRM_DELAYS_MS.length) return forget(detail.id);
    waiting.timer = setTimeout(() => {
      waiting.timer = null;
      waiting.tries += 1;
      if (!refresh(detail.id)) forget(detail.id);
    }, CONFIRM_DELAYS_MS[waiting.tries]);
  };
  const reapply = queryClient.getQueryCache().subscribe((event) => {
    if (event.type !== 'updated' || event.action.type !== 'success') return;
    const detail = event.query.state.data as JobDetail | undefined;
    if (!detail || !Array.isArray(detail.commands)) return;
    if (Array.isArray(detail.events)) confirm(detail);
    let next = detail;
    for (const command of detail.commands) {
      const heard = command.status === 'requested' ? results.get(command.id) : undefined;
      if (heard && heard.jobId === detail.id) next = withCommandResult(next, heard.result, heard.at);
    }
    if (next !== detail) queryClient.setQueryData(event.query.queryKey, next);
    showInSearches(queryClient, next);
  });
  const heard = (jobId: unknown, eventId: unknown) => {
    // Only a detail that is cached is fetched again, and only its event awaited; the fetch
    // answers later, so what is awaited is in place when it does.
    if (typeof jobId !== 'string' || !refresh(jobId)) return;
    forget(jobId);
    if (typeof eventId !== 'string') return;
    awaited.set(jobId, { eventId, tries: 0, timer: null });
    if (awaited.size > REMEMBERED_RESULTS) forget(awaited.keys().next().value!);
  };
  // One listener for every job event: TypeScript cannot pair each name with its payload in a map.
  const on = service.on as (name: (typeof JOB_EVENTS)[number], listener: (data: { job_id?: unknown; id?: unknown }) => void) => () => void;
  const stops = JOB_EVENTS.map((name) => on.call(service, name, (data) => heard(data.job_id, data.id)));
  stops.push(
    service.on('command:result', (data, message) => {
      results.set(data.command_id, { jobId: data.job_id, result: data, at: message.timestamp });
      if (results.size > REMEMBERED_RESULTS) results.delete(results.keys().next().value!);
      const key = jobDetailKey(data.job_id);
      queryClient.setQueryData<JobDetail>(key, (detail) => (detail ? withCommandResult(detail, data, message.timestamp) : detail));
      refresh(data.job_id);
    }),
  );
  return () => {
    for (const stop of stops) stop();
    for (const jobId of [...awaited.keys()]) forget(jobId);
    reapply();
  };
}

/** The summary's own fields, as the api answers them in a search: `error` clipped as there. */
const SEARCH_ERROR_CHARS = 500;

/** `detail`'s current values in every loaded search page that lists the job; pages without it keep their identity. */
function showInSearches(queryClient: QueryClient, detail: JobDetail): void {
  const fresh = (row: JobSummary): JobSummary | null => {
    let changed = false;
    const next: Record<string, unknown> = { ...row };
    for (const key of Object.keys(row) as (keyof JobSummary)[]) {
      if (!(key in detail)) continue;
      const value = key === 'error' && typeof detail.error === 'string' ? detail.error.slice(0, SEARCH_ERROR_CHARS) : detail[key];
      if (value !== row[key]) (next[key] = value), (changed = true);
    }
    return changed ? (next as unknown as JobSummary) : null;
  };
  queryClient.setQueriesData<InfiniteData<JobsPage>>({ queryKey: JOBS_SEARCH_KEY }, (data) => {
    if (!data?.pages) return data;
    let touched = false;
    const pages = data.pages.map((page) => {
      const index = page.items.findIndex((row) => row.id === detail.id);
      const row = index === -1 ? null : fresh(page.items[index]!);
      if (!row) return page;
      touched = true;
      const items = [...page.items];
      items[index] = row;
      return { ...page, items };
    });
    return touched ? { ...data, pages } : data;
  });
}

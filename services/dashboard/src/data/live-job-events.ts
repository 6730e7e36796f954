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
 * Keeps cached job details current from the socket: an event about a job refreshes its detail
 * (if it is cached), and a `command:result` marks its command done at once, before the refetch
 * brings the job's new state. Searches are not refetched on every event (a list that moves under
 * the reader's eyes is unreadable); they refresh when asked. Returns the function that stops it.
 *
 * A socket message can arrive before its effect is committed (the dispatcher publishes beside
 * the persist, CONTRACT §6), so a detail fetched on a `command:result` may still list the command
 * as requested. The results heard are remembered and applied again to every detail fetched
 * afterwards: a command's outcome, once heard, is never shown as pending again.
 *
 * A job's row in a loaded search shows what its fetched detail shows (status, attempts, times…),
 * so the open job and its row never disagree; the search itself is not refetched.
 */
export function followJobEvents(service: EventSource, queryClient: QueryClient): () => void {
  const results = new Map<string, { jobId: string; result: { command_id: string; ok: boolean; error?: string | null }; at: string }>();
  const reapply = queryClient.getQueryCache().subscribe((event) => {
    if (event.type !== 'updated' || event.action.type !== 'success') return;
    const detail = event.query.state.data as JobDetail | undefined;
    if (!detail || !Array.isArray(detail.commands)) return;
    let next = detail;
    for (const command of detail.commands) {
      const heard = command.status === 'requested' ? results.get(command.id) : undefined;
      if (heard && heard.jobId === detail.id) next = withCommandResult(next, heard.result, heard.at);
    }
    if (next !== detail) queryClient.setQueryData(event.query.queryKey, next);
    showInSearches(queryClient, next);
  });
  const refresh = (jobId: unknown) => {
    if (typeof jobId !== 'string') return;
    const key = jobDetailKey(jobId);
    if (queryClient.getQueryData(key) !== undefined) void queryClient.invalidateQueries({ queryKey: key, exact: true });
  };
  // One listener for every job event: TypeScript cannot pair each name with its payload in a map.
  const on = service.on as (name: (typeof JOB_EVENTS)[number], listener: (data: { job_id?: unknown }) => void) => () => void;
  const stops = JOB_EVENTS.map((name) => on.call(service, name, (data) => refresh(data.job_id)));
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

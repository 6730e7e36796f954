import type { CentralDataService } from '@agentos/client';
import type { JobDetail } from '@agentos/contracts';
import type { QueryClient } from '@tanstack/query-core';
import { jobDetailKey, withCommandResult } from './job-detail';

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

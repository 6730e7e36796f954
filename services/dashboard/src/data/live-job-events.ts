import type { CentralDataService } from '@agentos/client';
import type { JobDetail } from '@agentos/contracts';
import type { QueryClient } from '@tanstack/query-core';
import { jobDetailKey, withCommandResult } from './job-detail';

type EventSource = Pick<CentralDataService, 'on'>;

const JOB_EVENTS = ['job:new', 'job:progress', 'job:done', 'job:error', 'job:cancelled'] as const;

/**
 * Keeps cached job details current from the socket: an event about a job refreshes its detail
 * (if it is cached), and a `command:result` marks its command done at once, before the refetch
 * brings the job's new state. Searches are not refetched on every event (a list that moves under
 * the reader's eyes is unreadable); they refresh when asked. Returns the function that stops it.
 */
export function followJobEvents(service: EventSource, queryClient: QueryClient): () => void {
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
      const key = jobDetailKey(data.job_id);
      queryClient.setQueryData<JobDetail>(key, (detail) => (detail ? withCommandResult(detail, data, message.timestamp) : detail));
      refresh(data.job_id);
    }),
  );
  return () => {
    for (const stop of stops) stop();
  };
}

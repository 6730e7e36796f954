import type { CommandRecord, JobDetail } from '@agentos/contracts';
import { type ApiClient, segment } from './api-client';

/**
 * One job (`GET /api/admin/jobs/:id`): the job, its event history oldest first, and the commands
 * asked for it, newest first. Socket events about the job refresh it (see `live-job-events.ts`).
 */

export const jobDetailKey = (id: string) => ['jobs', 'detail', id] as const;

export const fetchJobDetail = (api: ApiClient, id: string, signal?: AbortSignal): Promise<JobDetail> => api.get<JobDetail>(`/api/admin/jobs/${segment(id)}`, signal);

export function jobDetailQuery(api: ApiClient, id: string) {
  return {
    queryKey: jobDetailKey(id),
    queryFn: ({ signal }: { signal: AbortSignal }) => fetchJobDetail(api, id, signal),
    staleTime: 10_000,
  };
}

/** The history as the timeline shows it: oldest first, by time then by the order the api gave. */
export function timelineOf(detail: Pick<JobDetail, 'events'>): JobDetail['events'] {
  return detail.events
    .map((event, index) => ({ event, index }))
    .sort((a, b) => a.event.occurred_at.localeCompare(b.event.occurred_at) || a.index - b.index)
    .map(({ event }) => event);
}

/** `detail` with a command just accepted (202) shown as requested, before the api lists it. */
export function withRequestedCommand(detail: JobDetail, command: CommandRecord): JobDetail {
  if (detail.commands.some((c) => c.id === command.id)) return detail;
  return { ...detail, commands: [command, ...detail.commands] };
}

/** `detail` with a command's outcome (`command:result`) applied; unchanged when it is not this job's. */
export function withCommandResult(detail: JobDetail, result: { command_id: string; ok: boolean; error?: string | null }, at: string): JobDetail {
  let changed = false;
  const commands = detail.commands.map((command) => {
    if (command.id !== result.command_id || command.status !== 'requested') return command;
    changed = true;
    return { ...command, status: result.ok ? ('succeeded' as const) : ('failed' as const), error: result.ok ? null : (result.error ?? 'failed'), completed_at: at };
  });
  return changed ? { ...detail, commands } : detail;
}

/** Whether any command is still waiting for its platform's answer. */
export const hasPendingCommand = (detail: Pick<JobDetail, 'commands'>): boolean => detail.commands.some((c) => c.status === 'requested');

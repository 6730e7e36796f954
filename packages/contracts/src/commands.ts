import { z } from 'zod';
import { opaqueId } from './ids';
import type { JobStatus } from './sections';

/**
 * Commands: admin actions on a job, carried out by the job's platform (CONTRACT §8). The api
 * checks them, keeps them in the database, and puts them on `ssot:commands:{source}`; the source's
 * bridge (or a platform's `CommandConsumer`) carries them out and reports `command:result`.
 */

export const COMMAND_ACTIONS = ['retry', 'cancel'] as const;
export const commandAction = z.enum(COMMAND_ACTIONS);
export type CommandAction = z.infer<typeof commandAction>;

/** One command, as it travels on the command stream (field `command`, this JSON). */
export const command = z.object({
  command_id: z.uuid(),
  job_id: opaqueId,
  action: commandAction,
  /** The `sub` of the admin who asked. */
  requested_by: z.string().min(1).max(200),
  requested_at: z.iso.datetime({ offset: true }),
});
export type Command = z.infer<typeof command>;

/** Where a command stands: asked for, and then what the platform said. */
export type CommandStatus = 'requested' | 'succeeded' | 'failed';

/**
 * What a source can do, by action: the job states in which the platform can carry it out. An
 * action not listed, or a job in another state, is refused with 409 before anything is queued.
 */
export type SourceCapabilities = Partial<Record<CommandAction, readonly JobStatus[]>>;

/**
 * The sources whose capabilities are known without asking (their bridges are part of this
 * system). A platform using `CommandConsumer` declares its own in Redis (`keys.sourceCapabilities`).
 */
export const BUILTIN_SOURCE_CAPABILITIES: Readonly<Record<string, SourceCapabilities>> = Object.freeze({
  // BullMQ: a failed job can be retried; a waiting or delayed one removed; an active one failed
  // with "cancelled by admin" (BullMQ cannot stop a running processor from outside).
  bullmq: { retry: ['failed'], cancel: ['pending', 'processing'] },
  // Celery: revoke (with terminate) cancels a queued or running task; no retry, since Celery's
  // events carry a task's arguments only as Python repr text, not something to send again.
  celery: { cancel: ['pending', 'processing'] },
});

/** Why a command cannot be carried out (409), or null when it can. */
export function commandRefusal(source: string, capabilities: SourceCapabilities | undefined, action: CommandAction, status: JobStatus): string | null {
  if (!capabilities || Object.keys(capabilities).length === 0) {
    return `jobs of source '${source}' take no commands: no bridge or CommandConsumer declared what it can do`;
  }
  const states = capabilities[action];
  if (!states || states.length === 0) return `source '${source}' cannot ${action} jobs`;
  if (!states.includes(status)) return `source '${source}' can ${action} only ${states.join(' or ')} jobs; this one is ${status}`;
  return null;
}

/** The event id of a command's result: one per command, so a result posted twice counts once. */
export function commandResultEventId(commandId: string): string {
  return `command-result:${commandId}`;
}

/** A command as the api shows it in a job's detail. */
export const commandRecord = z.object({
  id: z.uuid(),
  action: commandAction,
  status: z.enum(['requested', 'succeeded', 'failed']),
  requested_by: z.string(),
  requested_at: z.iso.datetime({ offset: true }),
  error: z.string().nullable(),
  completed_at: z.iso.datetime({ offset: true }).nullable(),
});
export type CommandRecord = z.infer<typeof commandRecord>;

/** `POST /api/admin/jobs/:id/retry|cancel` (202). */
export interface CommandAccepted {
  command_id: string;
}

import type { CommandOutcome } from '@agentos/client';
import type { Command } from '@agentos/contracts';
import type { CeleryControl } from './control';

/** Why a retry is refused (the api refuses it first, with 409: `BUILTIN_SOURCE_CAPABILITIES.celery`). */
export const RETRY_REFUSAL =
  "Celery tasks cannot be retried from the SSOT: Celery's events carry a task's arguments only as Python repr text, nothing to send again";

/**
 * One admin command on the Celery cluster (CONTRACT §8).
 * - `cancel`: Celery's own revoke with terminate, as `app.control.revoke(id, terminate=True)`
 *   sends it. A queued task is discarded when a worker comes to it, a running one is killed
 *   (SIGTERM); either way the worker's `task-revoked` becomes the job's `job:cancelled`. A revoke
 *   for a task already finished changes nothing, so carrying a command out twice is harmless.
 *   Nobody listening on the control channel means nothing was revoked: that is a failure.
 * - `retry`: refused.
 */
export function createCommandHandler(control: CeleryControl) {
  return async (command: Command): Promise<CommandOutcome> => {
    if (command.action !== 'cancel') return { ok: false, error: RETRY_REFUSAL };
    const reached = await control.revoke(command.job_id, { terminate: true });
    if (reached === 0) return { ok: false, error: 'no Celery worker is listening on the control channel: the revoke reached nobody' };
    return { ok: true };
  };
}

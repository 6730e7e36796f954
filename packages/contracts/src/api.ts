import { z } from 'zod';
import { commandRecord } from './commands';
import { jobHistoryEvent, jobSummary } from './sections';

/** Most events `GET /api/admin/jobs/:id` lists (oldest first); `events_total` says how many there are. */
export const MAX_JOB_HISTORY = 1000;

/**
 * `GET /api/admin/jobs/:id` (CONTRACT §4): the job as the snapshot lists it, its history oldest
 * first, and the commands asked for it, newest first (a command stays `requested` until its
 * platform reports a result).
 */
export const jobDetail = jobSummary.extend({
  updated_at: z.iso.datetime({ offset: true }),
  events: z.array(jobHistoryEvent),
  events_total: z.number().int().nonnegative(),
  commands: z.array(commandRecord),
});
export type JobDetail = z.infer<typeof jobDetail>;

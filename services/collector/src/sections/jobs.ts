import type { JobSummary } from '@agentos/contracts';
import type { Job } from '@agentos/db';
import { iso } from '../serialize';

/** A job row as the snapshot lists it. */
export function jobSummary(job: Job): JobSummary {
  return {
    id: job.id,
    queue: job.queue,
    type: job.type,
    status: job.status,
    user_id: job.userId,
    agent: job.agent,
    worker_id: job.workerId,
    attempts: job.attempts,
    progress: job.progress,
    error: job.error === null ? null : truncate(job.error, 500),
    duration_ms: job.durationMs,
    created_at: iso(job.createdAt)!,
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
  };
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Start of the UTC day of `now`. */
export function startOfUtcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

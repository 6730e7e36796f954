import type { AgentEvent, JobPayload, JobStatus } from '@agentos/contracts';

type JobEventName = 'job:created' | 'job:processing' | 'job:completed' | 'job:failed' | 'job:cancelled';
export type JobEvent = Extract<AgentEvent, { name: JobEventName }>;

const STATUS_OF: Record<JobEventName, JobStatus> = {
  'job:created': 'pending',
  'job:processing': 'processing',
  'job:completed': 'completed',
  'job:failed': 'failed',
  'job:cancelled': 'cancelled',
};

/**
 * Order of job states. Transitions only move forward: a state of a lower rank never replaces a
 * higher one, and within a rank the later `occurred_at` wins. So a `job:processing` that arrives
 * after `job:completed` leaves the job completed, whatever its timestamp, and a cancellation
 * never overrides a completion or a failure (the SQL's ssot_job_rank). Above the rank comes
 * the attempt, when the platform gives one: a later attempt (a retry) starts the job again.
 */
export const STATUS_RANK: Record<JobStatus, number> = { pending: 0, processing: 1, cancelled: 2, completed: 3, failed: 3 };

/** The states a job ends in. A cancellation ranks below the other two: it never overrides them. */
const FINISHED: ReadonlySet<JobStatus> = new Set(['completed', 'failed', 'cancelled']);

/** What a batch of events says about one job, folded into the state the batch moves it to. */
export interface JobTarget {
  id: string;
  source: string;
  queue: string;
  type: string;
  status: JobStatus;
  user_id: string | null;
  agent: string | null;
  worker_id: string | null;
  progress: number | null;
  error: string | null;
  duration_ms: number | null;
  /** The attempt of the event that set `status`, when the platform gave one. */
  attempt: number | null;
  /** When the job was created, if a `job:created` was among the events. */
  created_at: string | null;
  /** When it started, if a `job:processing` was among the events. */
  started_at: string | null;
  finished_at: string | null;
  /** `occurred_at` of the event that set `status`. */
  last_event_at: string;
}

export function isJobEvent(event: AgentEvent): event is JobEvent {
  return event.name in STATUS_OF;
}

/**
 * Folds each job's events of one batch into one target state, by the rank rule above, so the
 * database gets one row operation per job however many of its events the batch holds.
 */
export function foldJobEvents(events: readonly JobEvent[]): JobTarget[] {
  const byJob = new Map<string, JobEvent[]>();
  for (const event of events) {
    const list = byJob.get(event.payload.job_id) ?? [];
    list.push(event);
    byJob.set(event.payload.job_id, list);
  }
  const targets: JobTarget[] = [];
  for (const [id, list] of byJob) {
    list.sort(
      (a, b) =>
        (a.payload.attempt ?? 0) - (b.payload.attempt ?? 0) ||
        STATUS_RANK[STATUS_OF[a.name]] - STATUS_RANK[STATUS_OF[b.name]] ||
        a.occurred_at.localeCompare(b.occurred_at),
    );
    const last = list[list.length - 1]!;
    const status = STATUS_OF[last.name];
    // Times of the last attempt's events: a retry's start is its own.
    const current = last.payload.attempt === undefined ? list : list.filter((e) => e.payload.attempt === last.payload.attempt);
    const first = (name: JobEventName) => current.find((e) => e.name === name)?.occurred_at ?? null;
    // Later events fill and override what earlier ones said.
    const merged: Partial<JobPayload> = {};
    for (const event of list) {
      for (const [key, value] of Object.entries(event.payload)) if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
    }
    targets.push({
      id,
      source: list[0]!.source,
      queue: merged.queue!,
      type: merged.type!,
      status,
      user_id: merged.user_id ?? null,
      agent: merged.agent ?? null,
      worker_id: merged.worker_id ?? null,
      progress: last.payload.progress ?? (status === 'completed' ? 100 : null),
      error: status === 'failed' ? (last.payload.error ?? 'failed') : null,
      duration_ms: last.payload.duration_ms ?? null,
      attempt: last.payload.attempt ?? null,
      created_at: list.find((e) => e.name === 'job:created')?.occurred_at ?? null,
      started_at: first('job:processing'),
      finished_at: FINISHED.has(status) ? last.occurred_at : null,
      last_event_at: last.occurred_at,
    });
  }
  return targets;
}

import { z } from 'zod';
import { opaqueId } from './ids';

/**
 * CONTRACT §5: the events, their payloads, and the envelope they travel in. Unknown names are
 * refused. Ids are opaque (ids.ts).
 */

const jobPayload = z.object({
  job_id: opaqueId,
  queue: z.string().min(1).max(200),
  type: z.string().min(1).max(200),
  user_id: opaqueId.optional(),
  agent: z.string().min(1).max(200).optional(),
  worker_id: opaqueId.optional(),
  progress: z.number().min(0).max(100).optional(),
  error: z.string().max(10_000).optional(),
  duration_ms: z.number().int().nonnegative().optional(),
  /**
   * Which run of the job this event is about, from 1 (extension). A platform that retries a job
   * says so with a higher attempt: its `job:created`/`job:processing` then restarts a job that had
   * finished, and an event of an earlier attempt never overwrites a later one. Without it, the
   * job's states only move forward (pending → processing → finished).
   */
  attempt: z.number().int().min(1).max(10_000).optional(),
});
export type JobPayload = z.infer<typeof jobPayload>;

/** `job:cancelled` (extension): a job event, with why. */
const jobCancelledPayload = jobPayload.extend({ reason: z.string().max(1000).optional() });
export type JobCancelledPayload = z.infer<typeof jobCancelledPayload>;

export const workerHeartbeatPayload = z.object({
  worker_id: opaqueId,
  queues: z.array(z.string().min(1).max(200)).max(100),
  active_jobs: z.number().int().nonnegative(),
  concurrency: z.number().int().positive(),
  hostname: z.string().max(255).optional(),
  cpu: z.number().min(0).optional(),
  memory_mb: z.number().nonnegative().optional(),
  /**
   * How long this heartbeat vouches for the worker, seconds (extension): a platform whose workers
   * beat rarely (Celery: every `freq` s) says so. @default the dispatch table's 120
   */
  ttl_s: z.number().int().min(1).max(86_400).optional(),
});
export type WorkerHeartbeatPayload = z.infer<typeof workerHeartbeatPayload>;

export const workerOfflinePayload = z.object({ worker_id: opaqueId, reason: z.string().min(1).max(1000) });
export type WorkerOfflinePayload = z.infer<typeof workerOfflinePayload>;

export const queueThresholdPayload = z.object({
  queue: z.string().min(1).max(200),
  pending: z.number().int().nonnegative(),
  threshold: z.number().int().nonnegative(),
});
export type QueueThresholdPayload = z.infer<typeof queueThresholdPayload>;

export const systemHealthPayload = z.object({
  services: z.record(z.string(), z.string()),
  redis_ms: z.number().nonnegative(),
  database_ms: z.number().nonnegative(),
});
export type SystemHealthPayload = z.infer<typeof systemHealthPayload>;

/** `queue:stats` (extension): the depth the platform's broker reports for a queue. */
export const queueStatsPayload = z.object({
  queue: z.string().min(1).max(200),
  pending: z.number().int().nonnegative(),
  workers: z.number().int().nonnegative().optional(),
});
export type QueueStatsPayload = z.infer<typeof queueStatsPayload>;

/** `command:result` (extension): what the platform did with a command (CONTRACT §8). */
export const commandResultPayload = z.object({
  command_id: z.uuid(),
  job_id: opaqueId,
  ok: z.boolean(),
  error: z.string().max(2000).optional(),
});
export type CommandResultPayload = z.infer<typeof commandResultPayload>;

export const EVENT_PAYLOADS = {
  'job:created': jobPayload,
  'job:processing': jobPayload,
  'job:completed': jobPayload,
  'job:failed': jobPayload,
  'worker:heartbeat': workerHeartbeatPayload,
  'worker:offline': workerOfflinePayload,
  'queue:threshold_warning': queueThresholdPayload,
  'system:health_check': systemHealthPayload,
  'job:cancelled': jobCancelledPayload,
  'queue:stats': queueStatsPayload,
  'command:result': commandResultPayload,
} as const;

export type EventName = keyof typeof EVENT_PAYLOADS;
export const EVENT_NAMES = Object.keys(EVENT_PAYLOADS) as EventName[];
export type EventPayload<N extends EventName> = z.infer<(typeof EVENT_PAYLOADS)[N]>;

/**
 * The platform an event comes from (CONTRACT §5): `celery`, `bullmq`, or any name a platform
 * chooses; its jobs' commands go to `ssot:commands:{source}` (§8).
 */
export const eventSource = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'lowercase letters, digits, _ . - (at most 64)');

/** What a platform says when it names no source. */
export const DEFAULT_EVENT_SOURCE = 'api';

/** One event as posted: `id`, `occurred_at` and `source` are filled by the server when missing. */
export const eventEnvelope = z.discriminatedUnion(
  'name',
  EVENT_NAMES.map((name) =>
    z.object({
      id: opaqueId.optional(),
      name: z.literal(name),
      payload: EVENT_PAYLOADS[name],
      occurred_at: z.iso.datetime({ offset: true }).optional(),
      source: eventSource.optional(),
    }),
  ) as unknown as [z.ZodObject, ...z.ZodObject[]],
);

/** An event once accepted: id, time and source always present. */
export type AgentEvent = {
  [N in EventName]: { id: string; name: N; payload: EventPayload<N>; occurred_at: string; source: string };
}[EventName];

/**
 * Furthest ahead of the server's clock an `occurred_at` may be (CONTRACT §5): a heartbeat dated
 * 2099 would otherwise keep its worker online for ever. Past it, the event is refused.
 */
export const MAX_OCCURRED_AT_AHEAD_MS = 5 * 60 * 1000;

/** Most events in one `POST /api/events` batch. */
export const MAX_EVENTS_PER_BATCH = 500;
/** Largest `POST /api/events` body, bytes. */
export const MAX_INGEST_BYTES = 1024 * 1024;

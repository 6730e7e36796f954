import { z } from 'zod';

/** CONTRACT §5: the eight event names and their payloads. Unknown names are refused. */

const jobPayload = z.object({
  job_id: z.uuid(),
  queue: z.string().min(1).max(200),
  type: z.string().min(1).max(200),
  user_id: z.uuid().optional(),
  agent: z.string().min(1).max(200).optional(),
  worker_id: z.uuid().optional(),
  progress: z.number().min(0).max(100).optional(),
  error: z.string().max(10_000).optional(),
  duration_ms: z.number().int().nonnegative().optional(),
});
export type JobPayload = z.infer<typeof jobPayload>;

export const workerHeartbeatPayload = z.object({
  worker_id: z.uuid(),
  queues: z.array(z.string().min(1).max(200)).max(100),
  active_jobs: z.number().int().nonnegative(),
  concurrency: z.number().int().positive(),
  hostname: z.string().max(255).optional(),
  cpu: z.number().min(0).optional(),
  memory_mb: z.number().nonnegative().optional(),
});
export type WorkerHeartbeatPayload = z.infer<typeof workerHeartbeatPayload>;

export const workerOfflinePayload = z.object({ worker_id: z.uuid(), reason: z.string().min(1).max(1000) });
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

export const EVENT_PAYLOADS = {
  'job:created': jobPayload,
  'job:processing': jobPayload,
  'job:completed': jobPayload,
  'job:failed': jobPayload,
  'worker:heartbeat': workerHeartbeatPayload,
  'worker:offline': workerOfflinePayload,
  'queue:threshold_warning': queueThresholdPayload,
  'system:health_check': systemHealthPayload,
} as const;

export type EventName = keyof typeof EVENT_PAYLOADS;
export const EVENT_NAMES = Object.keys(EVENT_PAYLOADS) as EventName[];
export type EventPayload<N extends EventName> = z.infer<(typeof EVENT_PAYLOADS)[N]>;

/** One event as posted: `id` and `occurred_at` are filled by the server when missing. */
export const eventEnvelope = z.discriminatedUnion(
  'name',
  EVENT_NAMES.map((name) =>
    z.object({
      id: z.uuid().optional(),
      name: z.literal(name),
      payload: EVENT_PAYLOADS[name],
      occurred_at: z.iso.datetime({ offset: true }).optional(),
    }),
  ) as unknown as [z.ZodObject, ...z.ZodObject[]],
);

/** An event once accepted: id and time always present. */
export type AgentEvent = {
  [N in EventName]: { id: string; name: N; payload: EventPayload<N>; occurred_at: string };
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

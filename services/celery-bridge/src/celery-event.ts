import { opaqueId } from '@agentos/contracts';
import { z } from 'zod';

/**
 * Celery's events as its workers and clients send them (Celery 5: `celery/events/`,
 * `celery/worker/request.py`), with the fields the bridge reads. Every event has `type`,
 * `hostname` (`name@host`: a worker, or `gen{pid}@host` for a client), `timestamp` (float epoch
 * seconds, `time.time()`), `utcoffset` (the sender's zone, hours west of UTC), `pid` and `clock`
 * (the sender's Lamport clock). Fields Celery may leave out are optional; others are ignored.
 */

const base = {
  type: z.string().min(1).max(100),
  /** Becomes `worker_id`: it must be an id the SSOT takes (CONTRACT §5). */
  hostname: opaqueId,
  timestamp: z.number(),
  utcoffset: z.number().optional(),
  pid: z.number().int().optional(),
  clock: z.number().int().nonnegative().optional(),
};

/** What any event must have before its type is even looked at. */
export const celeryEventHead = z.object(base);
export type CeleryEventHead = z.infer<typeof celeryEventHead>;

const task = { ...base, uuid: opaqueId };
/** Python repr text (or a name); null where Celery sends None. */
const text = z.string().nullish();

export const taskSent = z.object({
  ...task,
  type: z.literal('task-sent'),
  name: z.string().min(1).max(200),
  retries: z.number().int().nonnegative().optional(),
  queue: text,
  routing_key: text,
  exchange: text,
});
export const taskReceived = z.object({
  ...task,
  type: z.literal('task-received'),
  name: z.string().min(1).max(200),
  retries: z.number().int().nonnegative().optional(),
});
export const taskStarted = z.object({ ...task, type: z.literal('task-started') });
export const taskSucceeded = z.object({ ...task, type: z.literal('task-succeeded'), runtime: z.number().nonnegative().optional() });
export const taskFailed = z.object({ ...task, type: z.literal('task-failed'), exception: text, traceback: text });
export const taskRetried = z.object({ ...task, type: z.literal('task-retried'), exception: text, traceback: text });
export const taskRevoked = z.object({
  ...task,
  type: z.literal('task-revoked'),
  terminated: z.boolean().nullish(),
  signum: z.union([z.number(), z.string()]).nullish(),
  expired: z.boolean().nullish(),
});

const worker = {
  ...base,
  /** Seconds between heartbeats. */
  freq: z.number().positive().optional(),
  /** Tasks running now. */
  active: z.number().int().nonnegative().optional(),
  processed: z.number().int().nonnegative().optional(),
};
export const workerOnline = z.object({ ...worker, type: z.literal('worker-online') });
export const workerHeartbeat = z.object({ ...worker, type: z.literal('worker-heartbeat') });
export const workerOffline = z.object({ ...worker, type: z.literal('worker-offline') });

/** The events the bridge maps, by type; any other type is counted as ignored. */
export const CELERY_EVENT_SCHEMAS = {
  'task-sent': taskSent,
  'task-received': taskReceived,
  'task-started': taskStarted,
  'task-succeeded': taskSucceeded,
  'task-failed': taskFailed,
  'task-retried': taskRetried,
  'task-revoked': taskRevoked,
  'worker-online': workerOnline,
  'worker-heartbeat': workerHeartbeat,
  'worker-offline': workerOffline,
} as const;

export type CeleryEventType = keyof typeof CELERY_EVENT_SCHEMAS;
export type CeleryEvent = { [T in CeleryEventType]: z.infer<(typeof CELERY_EVENT_SCHEMAS)[T]> }[CeleryEventType];
export type CeleryTaskEvent = Extract<CeleryEvent, { uuid: string }>;
export type CeleryWorkerEvent = Exclude<CeleryEvent, CeleryTaskEvent>;

export function isMappedType(type: string): type is CeleryEventType {
  return Object.hasOwn(CELERY_EVENT_SCHEMAS, type);
}

export function isTaskEvent(event: CeleryEvent): event is CeleryTaskEvent {
  return event.type.startsWith('task-');
}

import { EVENT_DISPATCH_CONFIG } from '@agentos/contracts';
import { commonEnv, databaseEnv, eventStreamEnv, loadEnv, portEnv } from '@agentos/runtime';
import { z } from 'zod';

const positiveInt = z.coerce.number().int().positive();

export const dispatcherEnv = z.object({
  ...commonEnv,
  ...databaseEnv,
  ...eventStreamEnv,
  ...portEnv(3004),
  /** Events read (and persisted in one transaction) at a time. @default 500 */
  EVENT_BATCH: positiveInt.max(5000).default(500),
  /**
   * Batch pacing: batches that found less than EVENT_BATCH events come at most one per this long
   * on average (a token bucket of two, like the collector's builds: a batch after a late one may
   * come early, so a bridge posting about once per interval does not wait for its own jitter);
   * the events that arrive meanwhile are persisted together, in one transaction and one round of
   * Redis commands, by the next batch. Idle, an event is handled at once; with a backlog, full
   * batches follow each other at once. Socket messages never wait for it: each event's go out as
   * soon as it is read.
   * Costs up to this much latency before an event's effect is committed (and so before the
   * snapshot shows it) for fewer, larger transactions (BENCHMARKS.md, "Cost per event"). Keep it
   * shorter than the bridges' batches (BullMQ 40 ms, Celery 50), so a bridge's post finds a batch
   * slot free, and longer than the collector's REFRESH_MIN_INTERVAL_MS (30), so the build a batch
   * asks for starts at once (pacers at one rate in a row make each other wait; see the
   * collector's). 0: a batch as soon as the last one is done. @default 35
   */
  EVENT_MIN_INTERVAL_MS: z.coerce.number().int().min(0).max(1000).default(35),
  /** Deliveries of an event before it goes to the dead-letter stream. @default 5 */
  MAX_DELIVERIES: positiveInt.max(100).default(5),
  /** First retry delay of a failed event; doubles with each delivery. @default 1000 */
  RETRY_BASE_MS: positiveInt.default(1000),
  /** Events left pending this long by a consumer (dead, or failed) are claimed again. @default 2000 */
  CLAIM_IDLE_MS: positiveInt.default(2000),
  /** A worker whose last heartbeat is older than this is announced offline. @default the dispatch table's 120 */
  HEARTBEAT_TTL_S: positiveInt.default(EVENT_DISPATCH_CONFIG['worker:heartbeat'].ttl),
  /** How often the sweeper looks for lapsed heartbeats. @default 5000 */
  SWEEP_INTERVAL_MS: positiveInt.default(5000),
  /**
   * alert_ops posts here (JSON; `Idempotency-Key` the event id): written to an outbox with the
   * event and sent by a loop of its own, retried with backoff, at least once. Unset: alerts go
   * only to the `alerts` room and the log.
   */
  ALERT_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Longest wait for one webhook post. @default 5000 */
  ALERT_WEBHOOK_TIMEOUT_MS: positiveInt.default(5000),
  /** Posts of one alert before it is given up on (logged; `alert_outbox.failed_at`). @default 10 */
  ALERT_MAX_ATTEMPTS: positiveInt.max(100).default(10),
  /** consider_scaling aims to drain a queue's backlog within this many minutes. @default 10 */
  SCALING_TARGET_DRAIN_MIN: positiveInt.default(10),
  /** consider_scaling never recommends more workers than this per queue. @default 100 */
  SCALING_MAX_WORKERS: positiveInt.default(100),
  /** @default 10 */
  DB_POOL_MAX: positiveInt.default(10),
});
export type DispatcherConfig = z.infer<typeof dispatcherEnv>;

export function loadDispatcherConfig(env: NodeJS.ProcessEnv = process.env): Readonly<DispatcherConfig> {
  return loadEnv('dispatcher', dispatcherEnv, env);
}

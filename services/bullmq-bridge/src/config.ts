import { commonEnv, loadEnv, portEnv } from '@agentos/runtime';
import { z } from 'zod';

const positiveInt = z.coerce.number().int().positive();

/**
 * A job data field as a path: `user_id`, or `meta.user.id` for a nested one. Each segment is a
 * plain key (no brackets, no wildcards).
 */
const dataField = z
  .string()
  .regex(/^[^.\s]+(\.[^.\s]+)*$/, 'a field name, or a dotted path to a nested one (meta.user_id)')
  .transform((path) => path.split('.'));

export const bridgeEnv = z.object({
  ...commonEnv,
  ...portEnv(3006),
  /** The Redis BullMQ runs on (CONTRACT §2). Required. */
  BULLMQ_REDIS_URL: z.url({ protocol: /^rediss?$/ }),
  /** BullMQ's key prefix (its `prefix` option). @default bull */
  BULLMQ_PREFIX: z.string().min(1).max(100).regex(/^\S+$/, 'no whitespace').default('bull'),
  /**
   * The queues to bridge, comma-separated. Empty: every queue found under the prefix, and each
   * new one as it appears (a `meta` key, or a worker connected to it). @default empty
   */
  BULLMQ_QUEUES: z
    .string()
    .default('')
    .transform((list) => [...new Set(list.split(',').map((q) => q.trim()).filter((q) => q !== ''))])
    .refine((queues) => queues.every((q) => !q.includes(':')), 'queue names cannot contain ":" (BullMQ refuses them too)'),
  /** Where the events go: the SSOT api's base URL (`POST /api/events`). @default http://127.0.0.1:3000 */
  INGEST_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:3000'),
  /** One of the api's `INGEST_TOKENS`. Required. */
  INGEST_TOKEN: z.string().min(1),
  /** The job data field whose value is the SSOT `user_id` (a dotted path reaches into objects). @default user_id */
  BULLMQ_USER_ID_FIELD: dataField.default(['user_id']),
  /** The job data field whose value is the SSOT `agent`. @default agent */
  BULLMQ_AGENT_FIELD: dataField.default(['agent']),
  /**
   * Where a queue with no saved read position starts: `earliest` posts everything BullMQ's event
   * stream still holds (its history, up to `streams.events.maxLen` entries), `latest` only what
   * comes after the bridge first sees the queue. @default earliest
   */
  BULLMQ_START: z.enum(['earliest', 'latest']).default('earliest'),
  /** Stream entries read per queue at a time. @default 500 */
  BULLMQ_READ_COUNT: positiveInt.max(10_000).default(500),
  /** How long one read waits for new entries (XREAD BLOCK), ms. @default 1000 */
  BULLMQ_BLOCK_MS: positiveInt.max(10_000).default(1000),
  /**
   * Least time between two reads while entries keep coming, ms: what arrives in between is read
   * and posted as one batch (one round trip to BullMQ, one request to the api). Round trips, not
   * events, are what the bridge's CPU goes on: at 1,000 events/s reading as often as entries came
   * cost ~0.35-0.5 cores here, every 25 ms ~0.1-0.13, every 40 ms ~0.07-0.1
   * (bench/bridge-bullmq.mjs). Adds up to this much latency; the first entry after a quiet spell
   * goes at once. 0: no batching. @default 40
   */
  BULLMQ_BATCH_MS: z.coerce.number().int().min(0).max(1000).default(40),
  /**
   * How often BullMQ's worker list and job counts are read, ms: `worker:heartbeat` (with a TTL of
   * three periods), `worker:offline`, `queue:stats`, and the lag gauges. @default 5000
   */
  BULLMQ_POLL_MS: positiveInt.min(100).default(5000),
  /** How often queues are looked for under the prefix when `BULLMQ_QUEUES` is empty, ms. @default 10000 */
  BULLMQ_DISCOVERY_MS: positiveInt.min(100).default(10_000),
  /**
   * A queue is read by one bridge replica at a time, the holder of its lease; a replica that dies
   * leaves its queues to the others after this long, ms. @default 10000
   */
  BULLMQ_LEASE_MS: positiveInt.min(1000).default(10_000),
  /**
   * What heartbeats report as a worker's `concurrency` (at least its active jobs): BullMQ does not
   * publish a worker's concurrency anywhere the bridge could read it. @default 1
   */
  BULLMQ_WORKER_CONCURRENCY: positiveInt.default(1),
  /** Events per `POST /api/events` request, 1 … 500. @default 500 */
  INGEST_BATCH: positiveInt.max(500).default(500),
  /**
   * Requests to the api in flight at once while the bridge catches up a backlog (a read that
   * returned BULLMQ_READ_COUNT entries) or a read holds more events than one request carries
   * (`INGEST_BATCH`); keeping up, a read goes as one request, since each request is a batch and a
   * snapshot build in the SSOT. A job's events always share one request (so they arrive in
   * order); with one, a backlog drains at one request per api round trip. @default 2
   */
  INGEST_CONCURRENCY: positiveInt.max(16).default(2),
});
export type BridgeConfig = z.infer<typeof bridgeEnv>;

export function loadBridgeConfig(env: NodeJS.ProcessEnv = process.env): Readonly<BridgeConfig> {
  return loadEnv('bullmq-bridge', bridgeEnv, env);
}

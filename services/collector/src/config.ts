import { EVENT_DISPATCH_CONFIG } from '@agentos/contracts';
import { commonEnv, databaseEnv, loadEnv, portEnv, snapshotEnv } from '@agentos/runtime';
import { z } from 'zod';

export const collectorEnv = z.object({
  ...commonEnv,
  ...databaseEnv,
  ...snapshotEnv,
  ...portEnv(3002),
  /** A section build slower than this is abandoned and reported in `meta.errors`. @default 2000 */
  SECTION_TIMEOUT_MS: z.coerce.number().int().positive().default(2000),
  /** Workers without a heartbeat for this long are not live. @default the dispatch table's 120 */
  HEARTBEAT_TTL_S: z.coerce.number().int().positive().default(EVENT_DISPATCH_CONFIG['worker:heartbeat'].ttl),
  /**
   * Most refresh requests coalesced into one build. 1 turns coalescing off (one build per
   * request): only for measuring what coalescing saves (bench:events). @default 200
   */
  REFRESH_BATCH: z.coerce.number().int().positive().default(200),
  /**
   * Build pacing: under load, one build per interval on average answers every request that
   * waited; idle, a request is built at once (the dispatch table's socket messages never wait for
   * it: they go out from the dispatcher). A build after a late one may start up to one interval
   * early (a token bucket of two builds, runtime's pacer.ts), so a producer that asks about once per
   * interval does not inherit its own jitter as waits. 0 builds again as soon as a request
   * waits: freshest, but under a steady load the collector rebuilds back to back and takes
   * whatever CPU is free. Chosen by measurement (BENCHMARKS.md, "Cost per event" and "Bridges"):
   * against 0, pacing cuts the system's CPU per event at 1,000 events/s by ~35 %. Keep it shorter
   * than the dispatchers' EVENT_MIN_INTERVAL_MS (35), itself shorter than the bridges' batches
   * (BullMQ 40 ms, Celery 50): each pacer then earns rounds faster than the one before it asks,
   * and a request finds a build slot free. Two pacers at the same rate in a row have no such
   * room, and their waits drift: at 40 and 40 the builds waited 21–41 ms at p50 in 7 of 10 runs
   * of bench:events, 9–11 in every run at 30 or 35 and 40. @default 30
   */
  REFRESH_MIN_INTERVAL_MS: z.coerce.number().int().min(0).max(10_000).default(30),
  /** Connections to PostgreSQL; the sections of one build run on them in parallel. @default 10 */
  DB_POOL_MAX: z.coerce.number().int().positive().default(10),
});
export type CollectorConfig = z.infer<typeof collectorEnv>;

export function loadCollectorConfig(env: NodeJS.ProcessEnv = process.env): Readonly<CollectorConfig> {
  return loadEnv('collector', collectorEnv, env);
}

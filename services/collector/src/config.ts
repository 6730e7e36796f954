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
   * Shortest time from the start of one build to the start of the next. Idle, a request is built
   * at once; under load, at most one build per interval answers every request that waited (the
   * dispatch table's socket messages never wait for it: they go out from the dispatcher). 0
   * builds again as soon as a request waits: freshest, but under a steady load the collector
   * rebuilds back to back and takes whatever CPU is free. Chosen from bench:events at 1,000
   * events/s (BENCHMARKS.md, "Cost per event"): 50 ms cuts the system's CPU per event by ~40 %
   * against 0, for a POST → version p99 of ~85 ms instead of ~70. @default 50
   */
  REFRESH_MIN_INTERVAL_MS: z.coerce.number().int().min(0).max(10_000).default(50),
  /** Connections to PostgreSQL; the sections of one build run on them in parallel. @default 10 */
  DB_POOL_MAX: z.coerce.number().int().positive().default(10),
});
export type CollectorConfig = z.infer<typeof collectorEnv>;

export function loadCollectorConfig(env: NodeJS.ProcessEnv = process.env): Readonly<CollectorConfig> {
  return loadEnv('collector', collectorEnv, env);
}

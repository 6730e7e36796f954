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
  /** Connections to PostgreSQL; the sections of one build run on them in parallel. @default 10 */
  DB_POOL_MAX: z.coerce.number().int().positive().default(10),
});
export type CollectorConfig = z.infer<typeof collectorEnv>;

export function loadCollectorConfig(env: NodeJS.ProcessEnv = process.env): Readonly<CollectorConfig> {
  return loadEnv('collector', collectorEnv, env);
}

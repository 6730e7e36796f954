import { commonEnv, eventStreamEnv, loadEnv, portEnv, snapshotEnv } from '@agentos/runtime';
import { z } from 'zod';

export const warmerEnv = z.object({
  ...commonEnv,
  ...snapshotEnv,
  ...eventStreamEnv,
  ...portEnv(3003),
  /** How often the lease holder checks that the snapshot key still exists. @default 1000 */
  MISSING_CHECK_MS: z.coerce.number().int().positive().default(1000),
  /** How often one replica raises `system:health_check`. @default 30000 */
  HEALTH_CHECK_INTERVAL_MS: z.coerce.number().int().positive().default(30_000),
});
export type WarmerConfig = z.infer<typeof warmerEnv>;

export function loadWarmerConfig(env: NodeJS.ProcessEnv = process.env): Readonly<WarmerConfig> {
  return loadEnv('cache-warmer', warmerEnv, env);
}

import { AUTH_REQUIRED, authEnv, commonEnv, loadEnv, portEnv } from '@agentos/runtime';
import { z } from 'zod';

export const apiEnv = z.object({
  ...commonEnv,
  ...authEnv,
  ...portEnv(3000),
  /**
   * Longest time an in-process snapshot copy is served without asking Redis, even if no new
   * version was announced (an announcement can be lost while the subscriber reconnects). @default 1000
   */
  SNAPSHOT_MAX_AGE_MS: z.coerce.number().int().positive().default(1000),
  /** How long a cache miss waits for the rebuild before serving the last good snapshot. @default 2000 */
  REBUILD_WAIT_MS: z.coerce.number().int().positive().default(2000),
});
export type ApiConfig = z.infer<typeof apiEnv>;

export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): Readonly<ApiConfig> {
  return loadEnv('api', apiEnv, env, [AUTH_REQUIRED]);
}

import { AUTH_REQUIRED, authEnv, commonEnv, EVENT_STREAM_MAXLEN, loadEnv, portEnv } from '@agentos/runtime';
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
  /**
   * Bearer tokens allowed to `POST /api/events`, comma separated (surrounding spaces ignored).
   * Each at least 16 characters, without whitespace. Admin JWTs are not ingest tokens. Empty:
   * every post is refused with 401 and the api warns once at start — there is no open door.
   * @default none
   */
  INGEST_TOKENS: z
    .string()
    .default('')
    .transform((list) => list.split(',').map((token) => token.trim()).filter((token) => token !== ''))
    // Never echo a token in the message: this text goes to logs.
    .refine((tokens) => tokens.every((token) => token.length >= 16 && !/\s/.test(token)), 'each token must be at least 16 characters, without whitespace'),
  /**
   * Events per second one ingest token may post, counted across every api replica (a window of
   * one second in Redis; a batch of 100 counts 100). Past it: 429 with `Retry-After: 1`, nothing
   * stored. @default 20000
   */
  INGEST_RATE_LIMIT: z.coerce.number().int().positive().default(20_000),
  /**
   * Entries kept on the event stream (trimmed approximately, `XADD MAXLEN ~`, on every add).
   * Trimming drops the oldest entries whether or not a dispatcher has read them: a dispatcher
   * that falls further behind than this many events (including entries it read but has not
   * acknowledged) loses the oldest ones — they were accepted and their ids are remembered, so
   * posting them again counts as a duplicate and does not bring them back. At R events/s the
   * stream covers a dispatcher outage of about MAXLEN / R seconds; size it for the longest one
   * you want to survive (memory: roughly the event JSON plus ~50 bytes per entry).
   * @default 1000000
   */
  EVENT_STREAM_MAXLEN: z.coerce.number().int().positive().default(EVENT_STREAM_MAXLEN),
});
export type ApiConfig = z.infer<typeof apiEnv>;

export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): Readonly<ApiConfig> {
  return loadEnv('api', apiEnv, env, [AUTH_REQUIRED]);
}

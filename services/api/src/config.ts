import { EVENT_ID_TTL_S } from '@agentos/contracts';
import { AUTH_REQUIRED, authEnv, commonEnv, corsOriginsEnv, databaseEnv, type EnvRule, eventStreamEnv, loadEnv, portEnv } from '@agentos/runtime';
import { z } from 'zod';

/** Comma-separated http(s) URLs (surrounding spaces and empty items ignored). */
const urlList = z
  .string()
  .default('')
  .transform((list) => list.split(',').map((url) => url.trim()).filter((url) => url !== ''))
  .refine((urls) => urls.every((url) => URL.canParse(url) && /^https?:$/.test(new URL(url).protocol)), 'each must be an http(s) URL');

export const apiEnv = z.object({
  ...commonEnv,
  ...authEnv,
  ...portEnv(3000),
  /**
   * The system of record, for the job routes (`/api/admin/jobs…`: a job's history, its commands).
   * The snapshot routes and ingest never touch it. Unset: those routes answer 503 and the api
   * warns once at start. @default none
   */
  DATABASE_URL: databaseEnv.DATABASE_URL.optional(),
  /** Connections to PostgreSQL for the job routes. @default 5 */
  DB_POOL_MAX: z.coerce.number().int().positive().default(5),
  /**
   * Jobs per batch of a bulk command (`POST /api/admin/jobs/bulk`): one transaction, and one
   * MULTI of commands for their streams. @default 200
   */
  BULK_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(200),
  /**
   * How long a replica holds a bulk command between two batches before another may take it
   * over (after a crash; a clean stop lets go at once). @default 15000
   */
  BULK_LEASE_MS: z.coerce.number().int().min(500).default(15_000),
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
  ...eventStreamEnv,
  /**
   * How long an accepted event id is remembered, so the same id posted again never reaches the
   * stream. A repost later than this reaches the dispatcher, whose `processed_events` still gives
   * it no effect (its socket message goes out again). Each id costs ~150 bytes of Redis: ~150 MB
   * per million ids remembered, i.e. rate × TTL × 150 B (docs/operations.md). @default 3600
   */
  EVENT_ID_TTL_S: z.coerce.number().int().min(60).default(EVENT_ID_TTL_S),
  /**
   * Browser origins allowed to call the api (CORS), comma separated, e.g.
   * `https://ops.example.com`; `*` for any (tokens are never cookies, so it lends no ambient
   * authority, but say so on purpose). Empty: same origin only — a page the api serves itself
   * needs no grant. @default none
   */
  CORS_ORIGINS: corsOriginsEnv,
  /**
   * The dashboard's static build, served at `/` (CONTRACT §1). Unset: the `@agentos/dashboard`
   * package's `dist/` beside this service; a directory without a build leaves `/` answering 404
   * (logged once at start) while every api route goes on. @default the package's dist/
   */
  DASHBOARD_DIR: z.string().min(1).optional(),
  /**
   * The realtime gateways the dashboard's browsers connect to, comma separated full URLs, tried
   * in order. Empty: the page's own origin (an ingress routing `/socket.io` to the gateways).
   * Each one is also written into the page's Content-Security-Policy `connect-src`. @default none
   */
  DASHBOARD_GATEWAY_URLS: urlList,
  /**
   * How the dashboard signs its users in: `token` (an admin token pasted as `#token=…` in the
   * URL, kept for the tab; development) or `oidc` (OpenID Connect, authorization code + PKCE;
   * needs DASHBOARD_OIDC_ISSUER and DASHBOARD_OIDC_CLIENT_ID). The api verifies the token either
   * way. @default token
   */
  DASHBOARD_AUTH: z.enum(['token', 'oidc']).default('token'),
  /** The OIDC issuer (its discovery document is at `/.well-known/openid-configuration`). @default none */
  DASHBOARD_OIDC_ISSUER: z.url({ protocol: /^https?$/ }).optional(),
  /** The dashboard's OIDC client id: a public client, PKCE, redirect URI `<origin>/auth/callback`. @default none */
  DASHBOARD_OIDC_CLIENT_ID: z.string().min(1).optional(),
  /** @default `openid profile` */
  DASHBOARD_OIDC_SCOPE: z.string().min(1).default('openid profile'),
  /** The access token's claim that holds `admin` or `user` (a dotted path for nested claims). @default role */
  DASHBOARD_OIDC_ROLE_CLAIM: z.string().min(1).default('role'),
  /** An RFC 8707 resource indicator to ask the access token for, when the provider needs one. @default none */
  DASHBOARD_OIDC_RESOURCE: z.string().min(1).optional(),
});
export type ApiConfig = z.infer<typeof apiEnv>;

/** `DASHBOARD_AUTH=oidc` needs its issuer and client id. */
const DASHBOARD_OIDC_REQUIRED: EnvRule = (env) =>
  env.DASHBOARD_AUTH === 'oidc'
    ? [
        ...(env.DASHBOARD_OIDC_ISSUER ? [] : ['  DASHBOARD_OIDC_ISSUER: required with DASHBOARD_AUTH=oidc']),
        ...(env.DASHBOARD_OIDC_CLIENT_ID ? [] : ['  DASHBOARD_OIDC_CLIENT_ID: required with DASHBOARD_AUTH=oidc']),
      ]
    : [];

export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): Readonly<ApiConfig> {
  return loadEnv('api', apiEnv, env, [AUTH_REQUIRED, DASHBOARD_OIDC_REQUIRED]);
}

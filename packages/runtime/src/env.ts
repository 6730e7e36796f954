import { namespaceHashTag } from '@agentos/contracts';
import { z } from 'zod';
import { AUTH_DEFAULTS } from './auth';
import { ConfigError } from './errors';
import { EVENT_STREAM_MAXLEN } from './events';
import { isClusterUrl, isRedisUrl } from './redis';

/**
 * Environment loading (CONTRACT §2). Each service declares one zod object of the variables it
 * reads, built from the shared pieces below; `loadEnv` checks all of them at once and fails with
 * ONE error naming every bad or missing variable.
 */

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();

export const redisEnv = {
  /**
   * One server (`redis://`, `rediss://`), a Sentinel deployment
   * (`redis+sentinel://host:26379,host:26379/master`) or a Redis Cluster
   * (`redis+cluster://host:6379,host:6379`; SSOT_NAMESPACE must then be a hash tag, CLUSTER_NAMESPACE).
   * runtime/redis.ts. @default redis://127.0.0.1:6379
   */
  REDIS_URL: z
    .string()
    .refine(isRedisUrl, 'must be a redis://, rediss://, redis+sentinel://host:port[,host:port…]/master or redis+cluster://host:port[,host:port…] URL')
    .default('redis://127.0.0.1:6379'),
  /**
   * Prefix of every key and channel: letters, digits, `_ . -`, with at most one hash tag `{…}` of
   * them (`{ssot}`, `prod-{ssot}`), which Redis Cluster needs (CLUSTER_NAMESPACE). @default ''
   */
  SSOT_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]*(\{[A-Za-z0-9_.-]+\}[A-Za-z0-9_.-]*)?$/, 'letters, digits, _ . - only, with at most one hash tag {…} of them')
    .default(''),
};

/**
 * On Redis Cluster the keys a script or a MULTI touches together must be in one slot: every key
 * starts with SSOT_NAMESPACE, so a namespace that is a hash tag puts all of them in the tag's slot
 * (keys.ts). `loadEnv` applies this to every schema that reads SSOT_NAMESPACE.
 */
export const CLUSTER_NAMESPACE: EnvRule = (env) => {
  if (env.REDIS_URL === undefined || !isClusterUrl(env.REDIS_URL) || namespaceHashTag(env.SSOT_NAMESPACE ?? '') !== null) return [];
  const problem = env.SSOT_NAMESPACE === undefined ? 'is required' : 'must contain a hash tag';
  return [`  SSOT_NAMESPACE: ${problem} on Redis Cluster (REDIS_URL is redis+cluster://): a name in braces, such as {ssot}, so that every key is in one slot`];
};

export const commonEnv = {
  ...redisEnv,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * Longest wait for the answer to one Redis command (blocking reads excepted). Past it the
   * command fails, so a Redis that stops answering without closing the connection (a blackholed
   * network, a failover in progress) costs a request this long at most, never a hang. A connection
   * that receives nothing for three times this is dropped and dialled again. @default 1000
   */
  REDIS_COMMAND_TIMEOUT_MS: positiveInt.max(60_000).default(1000),
  /**
   * A background loop (stream consumer, sweeper, warmer, the Redis probe) that has made no
   * progress for this long turns `/healthz` red, so Kubernetes restarts the pod. @default 10000
   */
  WATCHDOG_TIMEOUT_MS: positiveInt.min(1000).default(10_000),
  /** Longest time a client may take to send its request headers (slowloris). @default 10000 */
  HTTP_HEADERS_TIMEOUT_MS: positiveInt.default(10_000),
  /** Longest time a client may take to send a whole request, body included. @default 30000 */
  HTTP_REQUEST_TIMEOUT_MS: positiveInt.default(30_000),
  /** How long an idle keep-alive connection is kept; above the load balancer's idle timeout. @default 65000 */
  HTTP_KEEPALIVE_TIMEOUT_MS: positiveInt.default(65_000),
};

/** For every service that writes to the event stream (api, dispatcher, cache-warmer). */
export const eventStreamEnv = {
  /**
   * Entries kept on the event stream, trimmed approximately (`XADD MAXLEN ~`) by every writer.
   * Trimming drops the oldest entries whether or not a dispatcher has read them: at R events/s the
   * stream covers a dispatcher outage of about MAXLEN / R seconds (memory: roughly the event JSON
   * plus ~50 bytes per entry). @default 1000000
   */
  EVENT_STREAM_MAXLEN: positiveInt.default(EVENT_STREAM_MAXLEN),
};

export const databaseEnv = {
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' }),
  /**
   * Run the hot path's statements prepared (named, planned once per connection; `createDatabase`
   * in packages/db). Off where a connection is not a server session of its own: the embedded
   * PGlite of `npm start` (its connections share one session, so two would prepare the same
   * name), or a pooler in transaction mode without prepared-statement support (PgBouncer
   * < 1.21). @default true
   */
  DB_PREPARED_STATEMENTS: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default('true')
    .transform((value) => value === 'true'),
};

export const snapshotEnv = {
  /** Warming period, ms. @default 5000 */
  WARM_INTERVAL_MS: positiveInt.default(5000),
  /** Snapshot TTL, s. @default 15 */
  SNAPSHOT_TTL_S: positiveInt.default(15),
};

export const authEnv = {
  AUTH_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** JWKS endpoint; https only, unless AUTH_JWKS_ALLOW_HTTP (AUTH_REQUIRED checks it). */
  AUTH_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * Development only: allow an `http:` AUTH_JWKS_URL. Keys fetched in clear text can be replaced
   * by anyone on the path, who can then sign any token. @default false
   */
  AUTH_JWKS_ALLOW_HTTP: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default('false')
    .transform((value) => value === 'true'),
  /** Longest wait for the JWKS endpoint; past it the token is refused (401). @default 5000 */
  AUTH_JWKS_TIMEOUT_MS: positiveInt.max(60_000).default(AUTH_DEFAULTS.jwksTimeoutMs),
  AUTH_ISSUER: z.string().min(1).optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  /** Clock skew allowed between us and the token issuer on `exp`, `nbf` and `iat`, s. @default 30 */
  AUTH_CLOCK_TOLERANCE_S: z.coerce.number().int().min(0).max(300).default(AUTH_DEFAULTS.clockToleranceS),
};
export type AuthEnv = z.infer<z.ZodObject<typeof authEnv>>;

/**
 * `CORS_ORIGINS` (CONTRACT §2), shared by the api and the gateway: comma-separated origins
 * (`scheme://host[:port]`), or `*`. @default none: same origin only
 */
export const corsOriginsEnv = z
  .string()
  .default('')
  .transform((list) => list.split(',').map((origin) => origin.trim().replace(/\/+$/, '')).filter((origin) => origin !== ''))
  .refine((origins) => origins.every((o) => o === '*' || /^https?:\/\/[^/\s]+$/.test(o)), 'each origin must be * or scheme://host[:port], without a path');

export function portEnv(defaultPort: number) {
  return { PORT: port.default(defaultPort) };
}

/**
 * Services that verify user tokens need a secret or a JWKS endpoint, the endpoint https unless
 * AUTH_JWKS_ALLOW_HTTP: pass this to `loadEnv`.
 */
export const AUTH_REQUIRED: EnvRule = (env) => [
  ...(env.AUTH_JWT_SECRET || env.AUTH_JWKS_URL ? [] : ['  AUTH_JWT_SECRET: one of AUTH_JWT_SECRET or AUTH_JWKS_URL is required']),
  ...JWKS_HTTPS(env),
];

/** An `http:` AUTH_JWKS_URL only with AUTH_JWKS_ALLOW_HTTP=true (part of AUTH_REQUIRED). */
export const JWKS_HTTPS: EnvRule = (env) =>
  isHttpUrl(env.AUTH_JWKS_URL) && env.AUTH_JWKS_ALLOW_HTTP !== 'true'
    ? ['  AUTH_JWKS_URL: must be https (AUTH_JWKS_ALLOW_HTTP=true allows http, for development only)']
    : [];

function isHttpUrl(value: string | undefined): boolean {
  if (value === undefined || !URL.canParse(value)) return false;
  return new URL(value).protocol === 'http:';
}

/**
 * A check across variables, run on the raw environment even when the schema fails elsewhere (a
 * zod refinement would be skipped then, and the one message would not name every problem).
 * Returns the problem lines, none when satisfied.
 */
export type EnvRule = (env: Record<string, string>) => string[];

/**
 * Parses `env` with `schema`; returns a deeply frozen result or throws a ConfigError whose message
 * lists every problem, one per line (`VARIABLE: what is wrong`). `rules` come after the shared
 * ones: CLUSTER_NAMESPACE for a schema that reads SSOT_NAMESPACE.
 */
export function loadEnv<S extends z.ZodType>(
  service: string,
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
  rules: readonly EnvRule[] = [],
): Readonly<z.infer<S>> {
  // Empty strings count as unset, as in most deployment tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')) as Record<string, string>;
  const result = schema.safeParse(cleaned);
  const lines = result.success
    ? []
    : result.error.issues.map((issue) => {
        const name = issue.path.join('.') || '(environment)';
        const message = cleaned[String(issue.path[0])] === undefined ? 'is required' : issue.message;
        return `  ${name}: ${message}`;
      });
  const shared = schema instanceof z.ZodObject && 'SSOT_NAMESPACE' in schema.shape ? [CLUSTER_NAMESPACE] : [];
  for (const rule of [...shared, ...rules]) lines.push(...rule(cleaned));
  if (lines.length > 0) {
    throw new ConfigError(`${service}: invalid environment (${lines.length} problem${lines.length > 1 ? 's' : ''}):\n${lines.join('\n')}`);
  }
  return deepFreeze(result.data as z.infer<S>);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

import { z } from 'zod';
import { AUTH_DEFAULTS } from './auth';
import { ConfigError } from './errors';

/**
 * Environment loading (CONTRACT §2). Each service declares one zod object of the variables it
 * reads, built from the shared pieces below; `loadEnv` checks all of them at once and fails with
 * ONE error naming every bad or missing variable.
 */

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();

export const redisEnv = {
  /** @default redis://127.0.0.1:6379 */
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  /** Prefix of every key and channel. @default '' */
  SSOT_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]*$/, 'letters, digits, _ . - only')
    .default(''),
};

export const commonEnv = {
  ...redisEnv,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

export const databaseEnv = {
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' }),
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
 * lists every problem, one per line (`VARIABLE: what is wrong`).
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
  for (const rule of rules) lines.push(...rule(cleaned));
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

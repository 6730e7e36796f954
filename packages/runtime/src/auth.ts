import { createRemoteJWKSet, errors, jwtVerify, type JWTHeaderParameters, type KeyLike } from 'jose';
import type { AuthEnv } from './env';
import { ForbiddenError, KeySetUnavailableError, UnauthorizedError } from './errors';

/** The claims the system relies on (CONTRACT §2): `sub` the user id, `role` admin or user. */
export interface Principal {
  sub: string;
  role: 'admin' | 'user';
  /** When the verifier stops accepting the token (ms since epoch): its `exp` plus the clock tolerance. */
  expiresAt: number;
}

export interface AuthOptions {
  /** HS256 shared secret. Either this or `jwksUrl`. */
  secret?: string;
  /** JWKS endpoint for asymmetric tokens (RS256, ES256, EdDSA …); https unless `allowInsecureJwks`. */
  jwksUrl?: string;
  /**
   * Development only: accept an `http:` jwksUrl. Keys fetched in clear text can be replaced by
   * anyone on the path, who can then sign any token. @default false
   */
  allowInsecureJwks?: boolean;
  /** Required `iss` when set. */
  issuer?: string;
  /** Required `aud` when set. */
  audience?: string;
  /** Clock skew allowed on `exp`, `nbf` and `iat`, either way, in seconds. @default 30 */
  clockToleranceS?: number;
  /** Longest wait for one JWKS fetch; past it the token cannot be checked. @default 5000 */
  jwksTimeoutMs?: number;
  /**
   * After a fetch, a token with an unknown `kid` causes no other fetch for this long (so made-up
   * kids cannot hammer the endpoint); then it does, which is how a rotated-in key is found.
   * @default 30000
   */
  jwksCooldownMs?: number;
  /** How long a fetched key set is used before it is fetched again. @default 600000 */
  jwksCacheMaxAgeMs?: number;
  /**
   * Verified tokens are remembered until they expire (at most this many), so the hot read path
   * does not pay for a signature check on every request. @default 10000
   */
  cacheSize?: number;
}

/** What an unset option means (each is documented above). */
export const AUTH_DEFAULTS = {
  clockToleranceS: 30,
  jwksTimeoutMs: 5000,
  jwksCooldownMs: 30_000,
  jwksCacheMaxAgeMs: 600_000,
  cacheSize: 10_000,
} as const;

/** A service's auth variables (`authEnv`) as verifier options. */
export function authOptions(env: AuthEnv): AuthOptions {
  return {
    secret: env.AUTH_JWT_SECRET,
    jwksUrl: env.AUTH_JWKS_URL,
    allowInsecureJwks: env.AUTH_JWKS_ALLOW_HTTP,
    issuer: env.AUTH_ISSUER,
    audience: env.AUTH_AUDIENCE,
    clockToleranceS: env.AUTH_CLOCK_TOLERANCE_S,
    jwksTimeoutMs: env.AUTH_JWKS_TIMEOUT_MS,
  };
}

export interface TokenVerifier {
  /**
   * Resolves to the principal. Rejects with UnauthorizedError when the token is refused, or with
   * KeySetUnavailableError when it could not be checked (the JWKS did not answer); both tell the
   * client only `unauthorized`, and carry the why in `reason`.
   */
  verify(token: string | undefined): Promise<Principal>;
  /** As `verify`, then ForbiddenError unless the role is `admin`. */
  verifyAdmin(token: string | undefined): Promise<Principal>;
}

/** Longest token looked at: real ones are well under 2 kB, and the limit bounds the cache. */
export const MAX_TOKEN_LENGTH = 8192;

/** `header.payload.signature`, each segment unpadded base64url (RFC 7515 §7.1). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];

/** The verification key for a token's header. The same key object until the key set changes. */
type KeyResolver = (header: JWTHeaderParameters) => Promise<KeyLike | Uint8Array>;

interface VerifiedToken {
  principal: Principal;
  /** ms since epoch: `exp` plus the tolerance, when jose would refuse the token too. */
  until: number;
  header: JWTHeaderParameters;
  key: KeyLike | Uint8Array;
}

export function createTokenVerifier(options: AuthOptions): TokenVerifier {
  if (!options.secret && !options.jwksUrl) throw new Error('createTokenVerifier: secret or jwksUrl is required');
  const resolveKey = options.secret ? secretKey(options.secret) : remoteKeySet(options);
  // Pinning the algorithms is what refuses `alg: none` and HS/RS confusion (an HS256 token keyed
  // with the public key).
  const algorithms = options.secret ? ['HS256'] : ASYMMETRIC;
  const clockTolerance = options.clockToleranceS ?? AUTH_DEFAULTS.clockToleranceS;
  const cacheSize = options.cacheSize ?? AUTH_DEFAULTS.cacheSize;
  const cache = new Map<string, VerifiedToken>();

  async function verify(token: string | undefined): Promise<Principal> {
    if (!token) throw new UnauthorizedError('missing bearer token');
    // Not worth parsing, nor keeping as a cache key.
    if (token.length > MAX_TOKEN_LENGTH) throw new UnauthorizedError(`token over ${MAX_TOKEN_LENGTH} characters`);
    // jose decodes base64url leniently (it skips characters outside the alphabet, so a token
    // with a space appended still verifies); only the exact compact form is accepted here.
    if (!COMPACT_JWS.test(token)) throw new UnauthorizedError('not a compact JWS (three base64url segments)');
    const cached = cache.get(token);
    if (cached && cached.until > Date.now() && (await keyStillServed(cached))) return cached.principal;
    if (cached) cache.delete(token);
    let verified;
    try {
      verified = await jwtVerify(token, resolveKey, {
        algorithms,
        issuer: options.issuer,
        audience: options.audience,
        clockTolerance,
        requiredClaims: ['sub', 'exp'],
      });
    } catch (error) {
      if (error instanceof KeySetUnavailableError) throw error;
      throw new UnauthorizedError(reasonOf(error));
    }
    const { payload, protectedHeader, key } = verified;
    const role = payload.role;
    if (role !== 'admin' && role !== 'user') throw new UnauthorizedError('"role" claim must be admin or user');
    const principal: Principal = { sub: String(payload.sub), role, expiresAt: (payload.exp! + clockTolerance) * 1000 };
    // A token whose `nbf` is still ahead (accepted within the tolerance) is not remembered: the
    // cache only answers for tokens that were valid outright when checked.
    if (payload.nbf === undefined || payload.nbf * 1000 <= Date.now()) {
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
      cache.set(token, { principal, until: principal.expiresAt, header: protectedHeader, key });
    }
    return principal;
  }

  /**
   * A remembered token is served only while the key set still gives the key that verified it:
   * once the JWKS is fetched again (past its max age, or for a new kid) a removed key stops
   * working at once, not when the last token it signed expires.
   */
  async function keyStillServed(cached: VerifiedToken): Promise<boolean> {
    try {
      return (await resolveKey(cached.header)) === cached.key;
    } catch (error) {
      if (error instanceof KeySetUnavailableError) throw error;
      return false;
    }
  }

  return {
    verify,
    async verifyAdmin(token) {
      const principal = await verify(token);
      if (principal.role !== 'admin') throw new ForbiddenError('admin role required');
      return principal;
    },
  };
}

function secretKey(secret: string): KeyResolver {
  const key = new TextEncoder().encode(secret);
  return async () => key;
}

/**
 * The JWKS through jose's remote key set, which fetches with a timeout, caches, and refetches
 * for an unknown kid after the cooldown. A key set that cannot be fetched or used becomes
 * KeySetUnavailableError; a token naming a key the set does not have stays the token's fault.
 */
function remoteKeySet(options: AuthOptions): KeyResolver {
  const url = new URL(options.jwksUrl!);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && options.allowInsecureJwks)) {
    throw new Error(`createTokenVerifier: jwksUrl must be https, not ${url.protocol} (allowInsecureJwks allows http, for development only)`);
  }
  const remote = createRemoteJWKSet(url, {
    timeoutDuration: options.jwksTimeoutMs ?? AUTH_DEFAULTS.jwksTimeoutMs,
    cooldownDuration: options.jwksCooldownMs ?? AUTH_DEFAULTS.jwksCooldownMs,
    cacheMaxAge: options.jwksCacheMaxAgeMs ?? AUTH_DEFAULTS.jwksCacheMaxAgeMs,
  });
  return async (header) => {
    try {
      return await remote(header);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      throw new KeySetUnavailableError(`JWKS ${url.host}: ${reasonOf(error)}`);
    }
  };
}

/** e.g. `JWTExpired: "exp" claim timestamp check failed`, for logs. */
function reasonOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The token of an `Authorization: Bearer …` header, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { ForbiddenError, UnauthorizedError } from './errors';

/** The claims the system relies on (CONTRACT §2): `sub` the user id, `role` admin or user. */
export interface Principal {
  sub: string;
  role: 'admin' | 'user';
}

export interface AuthOptions {
  /** HS256 shared secret. Either this or `jwksUrl`. */
  secret?: string;
  /** JWKS endpoint for asymmetric tokens (RS256, ES256, EdDSA …). */
  jwksUrl?: string;
  /** Required `iss` when set. */
  issuer?: string;
  /** Required `aud` when set. */
  audience?: string;
  /**
   * Verified tokens are remembered until they expire (at most this many), so the hot read path
   * does not pay for a signature check on every request. @default 10000
   */
  cacheSize?: number;
}

export interface TokenVerifier {
  /** Resolves to the principal or rejects with UnauthorizedError. */
  verify(token: string | undefined): Promise<Principal>;
  /** As `verify`, then ForbiddenError unless the role is `admin`. */
  verifyAdmin(token: string | undefined): Promise<Principal>;
}

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];

export function createTokenVerifier(options: AuthOptions): TokenVerifier {
  if (!options.secret && !options.jwksUrl) throw new Error('createTokenVerifier: secret or jwksUrl is required');
  const key: Uint8Array | JWTVerifyGetKey = options.secret
    ? new TextEncoder().encode(options.secret)
    : createRemoteJWKSet(new URL(options.jwksUrl!));
  // Pinning the algorithms is what refuses `alg: none` and HS/RS confusion.
  const algorithms = options.secret ? ['HS256'] : ASYMMETRIC;
  const cacheSize = options.cacheSize ?? 10_000;
  const cache = new Map<string, { principal: Principal; expiresAt: number }>();

  async function verify(token: string | undefined): Promise<Principal> {
    if (!token) throw new UnauthorizedError('missing bearer token');
    const cached = cache.get(token);
    if (cached && cached.expiresAt > Date.now()) return cached.principal;
    if (cached) cache.delete(token);
    let payload;
    try {
      ({ payload } = await jwtVerify(token, key as Uint8Array, {
        algorithms,
        issuer: options.issuer,
        audience: options.audience,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      throw new UnauthorizedError(`invalid token: ${(error as Error).message}`);
    }
    const role = payload.role;
    if (role !== 'admin' && role !== 'user') throw new UnauthorizedError('invalid token: role must be admin or user');
    const principal: Principal = { sub: String(payload.sub), role };
    if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
    cache.set(token, { principal, expiresAt: (payload.exp as number) * 1000 });
    return principal;
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

/** The token of an `Authorization: Bearer …` header, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

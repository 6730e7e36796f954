/**
 * What the app reads from a token to decide what to show. The api and the gateway verify every
 * token; this decodes without verifying, only to tell a `user` token not to ask for admin data.
 */

export interface Claims {
  sub?: string;
  exp?: number;
  [claim: string]: unknown;
}

/** The payload of a JWT, or null when it is not one. */
export function decodeClaims(token: string): Claims | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? (claims as Claims) : null;
  } catch {
    return null;
  }
}

/**
 * The role named by `claim` (a dotted path, for providers that nest it: `realm_access.roles`):
 * `admin` when it is `admin` or a list holding `admin`, else `user` when any value is there, else null.
 */
export function roleOf(claims: Claims | null | undefined, claim = 'role'): 'admin' | 'user' | null {
  if (!claims) return null;
  let value: unknown = claims[claim];
  if (value === undefined && claim.includes('.')) {
    value = claim.split('.').reduce<unknown>((node, key) => (typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined), claims);
  }
  if (value === 'admin' || (Array.isArray(value) && value.includes('admin'))) return 'admin';
  return value === undefined || value === null ? null : 'user';
}

/** True when the token's `exp` is past (with `skewS` of slack); false without an `exp`. */
export const isExpired = (claims: Claims | null, nowMs = Date.now(), skewS = 30): boolean => typeof claims?.exp === 'number' && claims.exp + skewS < nowMs / 1000;

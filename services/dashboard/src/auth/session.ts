import type { DashboardConfig } from '../config';
import { decodeClaims, isExpired, roleOf } from './claims';
import { TOKEN_STORAGE_KEY, takeFragmentToken } from './fragment-token';

/** Who is signed in, and the token every request carries. */
export interface Session {
  readonly mode: 'token' | 'oidc';
  readonly subject: string;
  /** From the token's role claim; the api and gateway decide, this only spares a `user` the refusals. */
  readonly role: 'admin' | 'user' | null;
  /** A current token (OIDC: renewed when it is about to expire). */
  token(): Promise<string>;
  signOut(): void;
}

export type SignInOutcome =
  | { kind: 'session'; session: Session }
  /** Development, and no token in the fragment or the tab: the page asks for one. */
  | { kind: 'needs-token'; reason: string | null }
  /** On the way to the provider: nothing to draw. */
  | { kind: 'redirecting' }
  | { kind: 'error'; message: string };

/** A session from a development token (the fragment's, or the one kept for this tab). */
export function tokenSession(token: string, storage: Pick<Storage, 'removeItem'>): Session | { problem: string } {
  const claims = decodeClaims(token);
  if (!claims) return { problem: 'that is not a JWT' };
  if (isExpired(claims)) return { problem: 'the token has expired' };
  return {
    mode: 'token',
    subject: typeof claims.sub === 'string' ? claims.sub : 'unknown',
    role: roleOf(claims, 'role'),
    token: async () => token,
    signOut: () => {
      storage.removeItem(TOKEN_STORAGE_KEY);
      location.assign('/');
    },
  };
}

export async function signIn(config: DashboardConfig): Promise<SignInOutcome> {
  if (config.auth.mode === 'oidc') {
    // Loaded only where it is used: development builds never fetch it.
    const { oidcSignIn } = await import('./oidc');
    return oidcSignIn(config.auth);
  }
  const token = takeFragmentToken(location, history, sessionStorage);
  if (!token) return { kind: 'needs-token', reason: null };
  const session = tokenSession(token, sessionStorage);
  if ('problem' in session) {
    sessionStorage.removeItem(TOKEN_STORAGE_KEY);
    return { kind: 'needs-token', reason: session.problem };
  }
  return { kind: 'session', session };
}

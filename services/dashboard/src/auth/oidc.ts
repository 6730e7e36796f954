import { type User, UserManager, WebStorageStateStore } from 'oidc-client-ts';
import type { AuthConfig } from '../config';
import { decodeClaims, roleOf } from './claims';
import type { Session, SignInOutcome } from './session';

type OidcConfig = Extract<AuthConfig, { mode: 'oidc' }>;

/** Where the provider sends the browser back with the code. serve.cjs serves the app there. */
export const CALLBACK_PATH = '/auth/callback';

/**
 * Production sign-in: OpenID Connect, authorization code with PKCE (oidc-client-ts). The user and
 * its tokens live in sessionStorage (this tab); the access token is what the api and the gateway
 * get, verified there through AUTH_JWKS_URL. The role is read from `roleClaim` in the access
 * token, or in the ID token's claims when the access token does not carry it.
 */
export async function oidcSignIn(config: OidcConfig): Promise<SignInOutcome> {
  const manager = new UserManager({
    authority: config.issuer,
    client_id: config.clientId,
    redirect_uri: `${location.origin}${CALLBACK_PATH}`,
    post_logout_redirect_uri: `${location.origin}/`,
    response_type: 'code',
    scope: config.scope,
    userStore: new WebStorageStateStore({ store: sessionStorage }),
    stateStore: new WebStorageStateStore({ store: sessionStorage }),
    automaticSilentRenew: true,
    // Renewal by refresh token when the provider gives one; no hidden iframe (the CSP allows none).
    ...(config.resource ? { extraQueryParams: { resource: config.resource }, extraTokenParams: { resource: config.resource } } : {}),
  });

  let user: User | null;
  try {
    if (location.pathname === CALLBACK_PATH) {
      user = await manager.signinRedirectCallback();
      const back = typeof user.state === 'string' && user.state.startsWith('/') && !user.state.startsWith('//') ? user.state : '/';
      history.replaceState(null, '', back);
    } else {
      user = await manager.getUser();
    }
  } catch (error) {
    return { kind: 'error', message: `sign-in failed: ${(error as Error).message}` };
  }

  if (!user || user.expired) {
    await manager.signinRedirect({ state: `${location.pathname}${location.search}` });
    return { kind: 'redirecting' };
  }
  return { kind: 'session', session: oidcSession(manager, user, config.roleClaim) };
}

function oidcSession(manager: UserManager, first: User, roleClaim: string): Session {
  const role = roleOf(decodeClaims(first.access_token), roleClaim) ?? roleOf(first.profile as Record<string, unknown>, roleClaim);
  return {
    mode: 'oidc',
    subject: first.profile.sub,
    role,
    async token() {
      let user = await manager.getUser();
      if (user && (user.expires_in ?? 0) < 30 && user.refresh_token) user = await manager.signinSilent().catch(() => user);
      if (!user || user.expired) {
        await manager.signinRedirect({ state: `${location.pathname}${location.search}` });
        throw new Error('signed out: redirecting to the provider');
      }
      return user.access_token;
    },
    signOut() {
      void manager.removeUser().then(() => manager.signoutRedirect().catch(() => location.assign('/')));
    },
  };
}

/**
 * Development sign-in: `npm start` prints the dashboard's URL with the admin token in the
 * fragment (`/#token=…`). A fragment never leaves the browser — not in the request, not in a
 * server's log, not in a Referer. The token is moved to sessionStorage (this tab only, gone when
 * it closes) and taken off the address bar at once, so it is not in the history either.
 */

export const TOKEN_STORAGE_KEY = 'agentos-ssot:token';

interface Place {
  readonly hash: string;
  readonly pathname: string;
  readonly search: string;
}

/** `#token=…` (or `#access_token=…`) and the fragment left without it. */
export function readFragmentToken(hash: string): { token: string | null; rest: string } {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const token = params.get('token') ?? params.get('access_token');
  params.delete('token');
  params.delete('access_token');
  const rest = params.toString();
  return { token: token || null, rest: rest ? `#${rest}` : '' };
}

/**
 * Takes a token from the fragment into `storage` and removes it from the address bar; returns
 * the token kept for this tab (the new one, or the one kept before), or null.
 */
export function takeFragmentToken(location: Place, history: Pick<History, 'replaceState' | 'state'>, storage: Pick<Storage, 'getItem' | 'setItem'>): string | null {
  const { token, rest } = readFragmentToken(location.hash);
  if (token) {
    storage.setItem(TOKEN_STORAGE_KEY, token);
    history.replaceState(history.state, '', `${location.pathname}${location.search}${rest}`);
    return token;
  }
  return storage.getItem(TOKEN_STORAGE_KEY);
}

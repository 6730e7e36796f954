import { useSyncExternalStore } from 'react';

/**
 * The address bar as a store: views read the path and query with `useLocation`, and move with
 * `navigate` (history.pushState, or replaceState for a filter typed into a form). No library:
 * six views and a query string.
 */

type Listener = () => void;
const listeners = new Set<Listener>();
let current = snapshotLocation();

function snapshotLocation(): { pathname: string; search: string } {
  return { pathname: location.pathname, search: location.search };
}

function changed(): void {
  const next = snapshotLocation();
  if (next.pathname === current.pathname && next.search === current.search) return;
  current = next;
  for (const listener of [...listeners]) listener();
}

addEventListener('popstate', changed);

function subscribe(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useLocation(): { pathname: string; search: string } {
  return useSyncExternalStore(subscribe, () => current);
}

/** Goes to `to` (path and query); `replace` for changes that should not stack up in the history. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === `${location.pathname}${location.search}`) return;
  if (options.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  changed();
}

/** `search` with `changes` applied (a null or empty value removes the parameter). */
export function withParams(search: string, changes: Record<string, string | null | undefined>): string {
  const params = new URLSearchParams(search);
  for (const [key, value] of Object.entries(changes)) {
    if (value) params.set(key, value);
    else params.delete(key);
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

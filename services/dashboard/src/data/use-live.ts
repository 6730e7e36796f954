import { createContext, useContext, useSyncExternalStore } from 'react';
import type { LiveStore, LiveView } from './live-store';

export const LiveStoreContext = createContext<LiveStore | null>(null);

export function useLiveStore(): LiveStore {
  const store = useContext(LiveStoreContext);
  if (!store) throw new Error('useLive outside <LiveStoreContext.Provider>');
  return store;
}

/**
 * A slice of the live view. `selector` must return the same object while its slice is unchanged
 * (see `createSelector`, or pick a slice by reference): the component renders again only when it
 * returns something else, at most once per publish (`PUBLISH_INTERVAL_MS`).
 */
export function useLive<T>(selector: (view: LiveView) => T): T {
  const store = useLiveStore();
  return useSyncExternalStore(store.subscribe, () => selector(store.getView()));
}

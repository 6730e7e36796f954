import { createContext, useContext, useSyncExternalStore } from 'react';
import type { CentralDataService } from '@agentos/client';
import type { Session } from '../auth/session';
import type { ApiClient } from '../data/api-client';
import type { PreferenceStore, Preferences } from '../data/preferences';

/** What the app shell hands every view: the api, the session, the live service and the reader's preferences. */
export interface AppServices {
  api: ApiClient;
  session: Session;
  service: CentralDataService;
  preferences: PreferenceStore;
}

export const AppContext = createContext<AppServices | null>(null);

export function useApp(): AppServices {
  const services = useContext(AppContext);
  if (!services) throw new Error('no <AppContext.Provider>');
  return services;
}

export function usePreferences(): Preferences {
  const { preferences } = useApp();
  return useSyncExternalStore(preferences.subscribe, preferences.get);
}

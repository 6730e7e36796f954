import { CentralDataService } from '@agentos/client';
import { QueryClient } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App';
import { NeedsToken, NotAdmin, SignInError } from './app/SignInScreens';
import { followTheme } from './app/theme';
import { signIn } from './auth/session';
import { loadConfig } from './config';
import { ApiError, createApiClient } from './data/api-client';
import { LiveStore } from './data/live-store';
import { followJobEvents } from './data/live-job-events';
import { PreferenceStore } from './data/preferences';
import './styles.css';

const preferences = new PreferenceStore(safeLocalStorage());
followTheme(preferences);
const root = createRoot(document.getElementById('root')!);

async function start(): Promise<void> {
  const config = await loadConfig();
  const outcome = await signIn(config);
  if (outcome.kind === 'redirecting') return;
  if (outcome.kind === 'needs-token') return root.render(<NeedsToken reason={outcome.reason} />);
  if (outcome.kind === 'error') return root.render(<SignInError message={outcome.message} />);
  const { session } = outcome;
  if (session.role !== 'admin') return root.render(<NotAdmin subject={session.subject} signOut={session.signOut} />);

  const service = new CentralDataService({
    apiUrl: config.apiUrl,
    gatewayUrls: config.gatewayUrls.length > 0 ? config.gatewayUrls : undefined,
    token: () => session.token(),
  });
  const store = new LiveStore(service);
  const api = createApiClient({ baseUrl: config.apiUrl, token: () => session.token() });
  const queryClient = new QueryClient({
    defaultOptions: {
      queries: {
        // A 4xx will not change by asking again; a network error or a 5xx may.
        retry: (failures, error) => failures < 2 && !(error instanceof ApiError && error.status >= 400 && error.status < 500),
        refetchOnWindowFocus: false,
      },
    },
  });
  followJobEvents(service, queryClient);
  void service.connect();
  root.render(
    <StrictMode>
      <App services={{ api, session, service, preferences }} store={store} queryClient={queryClient} />
    </StrictMode>,
  );
}

function safeLocalStorage(): Storage | undefined {
  try {
    return localStorage;
  } catch {
    return undefined;
  }
}

start().catch((error: unknown) => root.render(<SignInError message={`The dashboard could not start: ${(error as Error)?.message ?? String(error)}`} />));

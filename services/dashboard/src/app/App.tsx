import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { useEffect, useLayoutEffect, useRef } from 'react';
import type { LiveStore } from '../data/live-store';
import { LiveStoreContext, useLive } from '../data/use-live';
import { selectConnection, selectVersion } from '../data/selectors';
import { AgentsView } from '../views/agents/AgentsView';
import { AnalyticsView } from '../views/analytics/AnalyticsView';
import { DashboardView } from '../views/dashboard/DashboardView';
import { LogsView } from '../views/logs/LogsView';
import { QueueView } from '../views/queue/QueueView';
import { SystemView } from '../views/system/SystemView';
import { type AppServices, AppContext } from './context';
import { Header } from './Header';
import { navigate, useLocation } from './router';
import { ROUTES, type RoutePath } from './routes';

const VIEWS: Record<RoutePath, () => React.JSX.Element> = {
  '/': DashboardView,
  '/analytics': AnalyticsView,
  '/queue': QueueView,
  '/agents': AgentsView,
  '/logs': LogsView,
  '/system': SystemView,
};

export function App({ services, store, queryClient }: { services: AppServices; store: LiveStore; queryClient: QueryClient }) {
  return (
    <AppContext.Provider value={services}>
      <LiveStoreContext.Provider value={store}>
        <QueryClientProvider client={queryClient}>
          <Shell />
        </QueryClientProvider>
      </LiveStoreContext.Provider>
    </AppContext.Provider>
  );
}

function Shell() {
  const { pathname } = useLocation();
  const main = useRef<HTMLElement>(null);
  const View = VIEWS[pathname as RoutePath] ?? NotFound;
  useViewKeys(main);
  const route = ROUTES.find((r) => r.path === pathname);
  useEffect(() => {
    document.title = `${route?.label ?? 'Not found'} · AgentOS SSOT`;
  }, [route]);
  return (
    <>
      <Header />
      <ConnectionProblem />
      <main id="main" ref={main} tabIndex={-1} className="main">
        <View />
      </main>
      <Footer />
      <FirstDataMark />
    </>
  );
}

/** Keys 1–6 move between the views (not while typing); focus goes to the view, for screen readers. */
function useViewKeys(main: React.RefObject<HTMLElement | null>) {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target as HTMLElement | null;
      if (target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName) || target.closest('dialog[open]'))) return;
      const route = ROUTES.find((r) => r.key === event.key);
      if (!route) return;
      event.preventDefault();
      navigate(route.path);
      requestAnimationFrame(() => {
        main.current?.focus({ preventScroll: true });
        scrollTo(0, 0);
      });
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [main]);
}

/** Said once at the top when nothing could be read at all (the views keep the last copy when there is one). */
function ConnectionProblem() {
  const { state, problem, version } = useLive(selectConnection);
  if (state === 'live' || !problem) return null;
  return (
    <p className={`banner ${state === 'stale' ? 'banner-bad' : 'banner-warn'}`} role="status">
      {version === 0 ? 'No snapshot yet: ' : state === 'stale' ? 'Showing the last snapshot received: ' : 'Reconnecting; showing the last snapshot: '}
      {problem}
    </p>
  );
}

function Footer() {
  const version = useLive(selectVersion);
  const generated = useLive((v) => v.snapshot?.meta.generated_at);
  return (
    <footer className="app-footer">
      <span>
        Snapshot <span data-testid="snapshot-version">{version || '—'}</span>
        {generated && <> · built {generated}</>}
      </span>
      <span className="muted">Keys 1–6 switch views</span>
    </footer>
  );
}

/** `performance.mark('ssot:first-data')` once the first snapshot is on screen (what bench:dashboard times). */
function FirstDataMark() {
  const version = useLive(selectVersion);
  const marked = useRef(false);
  useLayoutEffect(() => {
    if (version > 0 && !marked.current) {
      marked.current = true;
      requestAnimationFrame(() => performance.mark('ssot:first-data'));
    }
  }, [version]);
  return null;
}

function NotFound() {
  return (
    <div className="view">
      <h1 className="view-title">Not found</h1>
      <p>
        No view here. Go to the <a href="/">Dashboard</a>.
      </p>
    </div>
  );
}

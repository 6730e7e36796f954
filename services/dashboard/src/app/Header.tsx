import { useApp, usePreferences } from './context';
import { Link } from '../components/Link';
import { useLive, useLiveStore } from '../data/use-live';
import { selectConnection } from '../data/selectors';
import { ROUTES } from './routes';
import { useLocation } from './router';

const STATE_TEXT = { live: 'Live', reconnecting: 'Reconnecting', stale: 'Stale', idle: 'Offline' } as const;

export function Header() {
  const { pathname } = useLocation();
  return (
    <header className="app-header">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <div className="brand">
        <span className="brand-mark" aria-hidden="true" />
        AgentOS SSOT
      </div>
      <nav aria-label="Views" className="nav">
        <ul>
          {ROUTES.map((route) => (
            <li key={route.path}>
              <Link to={route.path} aria-current={pathname === route.path ? 'page' : undefined} title={`${route.label} (key ${route.key})`} aria-keyshortcuts={route.key}>
                {route.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <div className="toolbar">
        <ConnectionBadge />
        <PauseButton />
        <TimeZoneToggle />
        <ThemeToggle />
        <SignOut />
      </div>
    </header>
  );
}

/** live / reconnecting / stale, and why when it is not live. */
export function ConnectionBadge() {
  const { state, stale, problem, version } = useLive(selectConnection);
  const shown = state === 'live' && stale ? 'stale' : state;
  const text = state === 'live' && stale ? 'Live (stale data)' : STATE_TEXT[state];
  return (
    <span className={`connection connection-${shown}`} role="status" aria-live="polite" data-state={state} title={problem ?? `snapshot version ${version}`}>
      <span className="dot" aria-hidden="true" />
      {text}
    </span>
  );
}

function PauseButton() {
  const store = useLiveStore();
  const { paused, waiting } = useLive(selectConnection);
  return (
    <button type="button" className={`button button-small ${paused ? 'button-primary' : ''}`} aria-pressed={paused} onClick={() => (paused ? store.resume() : store.pause())} title={paused ? 'Show the latest and follow it again' : 'Hold the views still; the connection stays up'}>
      {paused ? `Resume${waiting > 0 ? ` (${waiting} new)` : ''}` : 'Pause'}
    </button>
  );
}

function TimeZoneToggle() {
  const { preferences } = useApp();
  const { timeZone } = usePreferences();
  return (
    <button type="button" className="button button-small" onClick={() => preferences.set({ timeZone: timeZone === 'utc' ? 'local' : 'utc' })} aria-label={`Times in ${timeZone === 'utc' ? 'UTC' : 'local time'}: switch to ${timeZone === 'utc' ? 'local time' : 'UTC'}`}>
      {timeZone === 'utc' ? 'UTC' : 'Local time'}
    </button>
  );
}

function ThemeToggle() {
  const { preferences } = useApp();
  const { theme } = usePreferences();
  const next = theme === 'system' ? 'light' : theme === 'light' ? 'dark' : 'system';
  return (
    <button type="button" className="button button-small" onClick={() => preferences.set({ theme: next })} aria-label={`Theme: ${theme}. Switch to ${next}`}>
      {theme === 'system' ? 'Theme: system' : theme === 'light' ? 'Theme: light' : 'Theme: dark'}
    </button>
  );
}

function SignOut() {
  const { session } = useApp();
  return (
    <button type="button" className="button button-small" onClick={() => session.signOut()} title={`Signed in as ${session.subject}`}>
      Sign out
    </button>
  );
}

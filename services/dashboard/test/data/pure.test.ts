// Pure logic of the app: formatting, sign-in from the fragment, token claims, the runtime
// config, preferences, log filters, platforms and scaling advice.
import { decodeClaims, isExpired, roleOf } from '../../src/auth/claims';
import { readFragmentToken, takeFragmentToken, TOKEN_STORAGE_KEY } from '../../src/auth/fragment-token';
import { readConfig } from '../../src/config';
import { seriesColumns } from '../../src/data/analytics';
import { formatAge, formatDuration, formatSeconds, formatTime, inputToIso, isoToInput } from '../../src/data/format';
import { filterLogs, logSources, type LogEntry } from '../../src/data/logs';
import { platformsOf } from '../../src/data/platforms';
import { PreferenceStore, readPreferences, resolveTheme } from '../../src/data/preferences';
import { describeChange, scalingAdvice } from '../../src/data/scaling';

const jwt = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

describe('formatting', () => {
  it('shows times in UTC or local, durations and ages', () => {
    expect(formatTime('2026-12-03T14:05:09.123Z', 'utc')).toBe('2026-12-03 14:05:09 UTC');
    expect(formatTime('2026-12-03T14:05:09.123Z', 'utc', true)).toBe('14:05:09 UTC');
    expect(formatTime(null, 'utc')).toBe('—');
    expect([formatDuration(850), formatDuration(4200), formatDuration(185_000), formatDuration(7_800_000), formatDuration(null)]).toEqual(['850 ms', '4.2 s', '3 min 5 s', '2 h 10 min', '—']);
    expect([formatSeconds(0), formatSeconds(90)]).toEqual(['0 s', '1 min 30 s']);
    const now = Date.parse('2026-12-03T10:00:00Z');
    expect([formatAge('2026-12-03T09:59:48Z', now), formatAge('2026-12-03T09:57:00Z', now), formatAge('2026-12-03T10:00:05Z', now)]).toEqual(['12 s ago', '3 min ago', 'just now']);
  });

  it('reads datetime-local inputs in the zone chosen, and back', () => {
    expect(inputToIso('2026-12-03T14:05', 'utc')).toBe('2026-12-03T14:05:00.000Z');
    expect(isoToInput('2026-12-03T14:05:00.000Z', 'utc')).toBe('2026-12-03T14:05');
    expect(isoToInput(inputToIso('2026-12-03T14:05', 'local'), 'local')).toBe('2026-12-03T14:05');
    expect(inputToIso('', 'utc')).toBeUndefined();
  });
});

describe('sign-in', () => {
  it('takes #token=… into sessionStorage and off the address bar, keeping the rest of the fragment', () => {
    expect(readFragmentToken('#token=abc&tab=2')).toEqual({ token: 'abc', rest: '#tab=2' });
    const stored = new Map<string, string>();
    const storage = { getItem: (k: string) => stored.get(k) ?? null, setItem: (k: string, v: string) => void stored.set(k, v) };
    const replaced: string[] = [];
    const history = { state: null, replaceState: (_s: unknown, _t: string, url: string) => void replaced.push(url) };
    expect(takeFragmentToken({ hash: '#token=abc', pathname: '/queue', search: '?status=failed' }, history, storage)).toBe('abc');
    expect(replaced).toEqual(['/queue?status=failed']);
    expect(stored.get(TOKEN_STORAGE_KEY)).toBe('abc');
    // Later loads in the tab: from storage, the address bar untouched.
    expect(takeFragmentToken({ hash: '', pathname: '/', search: '' }, history, storage)).toBe('abc');
    expect(replaced).toHaveLength(1);
  });

  it('reads the role from the configured claim, nested or listed', () => {
    expect(roleOf(decodeClaims(jwt({ sub: 'a', role: 'admin' })))).toBe('admin');
    expect(roleOf(decodeClaims(jwt({ sub: 'a', role: 'user' })))).toBe('user');
    expect(roleOf({ roles: ['viewer', 'admin'] }, 'roles')).toBe('admin');
    expect(roleOf({ realm_access: { roles: ['viewer'] } }, 'realm_access.roles')).toBe('user');
    expect(roleOf({ 'https://ssot.example/role': 'admin' }, 'https://ssot.example/role')).toBe('admin');
    expect(roleOf({ sub: 'a' })).toBeNull();
    expect(decodeClaims('not-a-jwt')).toBeNull();
    expect(isExpired({ exp: 1000 }, 2_000_000)).toBe(true);
    expect(isExpired({}, Date.now())).toBe(false);
  });

  it('reads the runtime config with defaults, and refuses OIDC without issuer or client id', () => {
    expect(readConfig(null)).toEqual({ apiUrl: '', gatewayUrls: [], auth: { mode: 'token' } });
    expect(readConfig({ gatewayUrls: ['http://gw:3001', 7], auth: { mode: 'oidc', issuer: 'https://id.example', clientId: 'dash' } })).toEqual({
      apiUrl: '',
      gatewayUrls: ['http://gw:3001'],
      auth: { mode: 'oidc', issuer: 'https://id.example', clientId: 'dash', scope: 'openid profile', roleClaim: 'role' },
    });
    expect(() => readConfig({ auth: { mode: 'oidc', issuer: 'https://id.example' } })).toThrow('needs auth.issuer and auth.clientId');
  });
});

describe('preferences', () => {
  it('remembers theme and time zone, ignoring what it does not know', () => {
    const stored = new Map<string, string>();
    const storage = { getItem: (k: string) => stored.get(k) ?? null, setItem: (k: string, v: string) => void stored.set(k, v) };
    const store = new PreferenceStore(storage);
    let told = 0;
    store.subscribe(() => (told += 1));
    store.set({ theme: 'dark', timeZone: 'utc' });
    store.set({ theme: 'dark' });
    expect(told).toBe(1);
    expect(new PreferenceStore(storage).get()).toEqual({ theme: 'dark', timeZone: 'utc' });
    expect(readPreferences({ getItem: () => '{"theme":"purple"}', setItem: () => {} })).toEqual({ theme: 'system', timeZone: 'local' });
    expect([resolveTheme('system', true), resolveTheme('system', false), resolveTheme('light', true)]).toEqual(['dark', 'light', 'light']);
  });
});

describe('views’ derivations', () => {
  const entries: LogEntry[] = [
    { id: '1', level: 'info', source: 'api', message: 'job created', job_id: 'j1', created_at: '2026-12-03T10:00:00Z' },
    { id: '2', level: 'error', source: 'dispatcher', message: 'Agent step failed', job_id: 'j2', created_at: '2026-12-03T10:00:02Z' },
    { id: '3', level: 'warn', source: 'api', message: 'slow', job_id: null, created_at: '2026-12-03T10:00:01Z' },
  ];

  it('filters log lines by level, source and text, newest first', () => {
    expect(filterLogs(entries, { levels: [], source: null, text: '' }).map((e) => e.id)).toEqual(['2', '3', '1']);
    expect(filterLogs(entries, { levels: ['info', 'warn'], source: 'api', text: '' }).map((e) => e.id)).toEqual(['3', '1']);
    expect(filterLogs(entries, { levels: [], source: null, text: 'FAILED' }).map((e) => e.id)).toEqual(['2']);
    expect(filterLogs(entries, { levels: [], source: null, text: 'j1' }).map((e) => e.id)).toEqual(['1']);
    expect(logSources(entries)).toEqual(['api', 'dispatcher']);
  });

  it('turns series points into uPlot columns, the unfinished jobs apart', () => {
    expect(seriesColumns([{ t: '2026-12-03T10:00:00Z', total: 10, completed: 5, failed: 2, cancelled: 1 }])).toEqual([[Date.parse('2026-12-03T10:00:00Z') / 1000], [5], [2], [1], [2]]);
  });

  it('lists the platforms feeding the SSOT and the scaling advice per queue', () => {
    const job = (id: string, source: string) => ({ id, source }) as never;
    const snapshot = {
      dashboard: { jobs: { recent_jobs: [job('1', 'bullmq'), job('2', 'api')] }, workers: { queues: [{ name: 'ingest', workers: 1 }] } },
      queue: {
        awaiting_action: [job('1', 'bullmq'), job('3', 'celery')],
        queues: [
          { name: 'ingest', pending: 40, over_threshold: true, recommended_workers: 3, broker: { pending: 41, workers: 1, source: 'bullmq', at: 'x' } },
          { name: 'reports', pending: 0, over_threshold: false, recommended_workers: null, broker: null },
        ],
      },
      system_control: { services_status: { 'celery-bridge': { status: 'up', replicas: 1 }, api: { status: 'up', replicas: 2 } } },
    } as never;
    expect(platformsOf(snapshot)).toEqual([
      { source: 'api', jobsSeen: 1, brokerQueues: [], bridge: null },
      { source: 'bullmq', jobsSeen: 1, brokerQueues: ['ingest'], bridge: null },
      { source: 'celery', jobsSeen: 1, brokerQueues: [], bridge: { name: 'celery-bridge', status: 'up', replicas: 1 } },
    ]);
    expect(scalingAdvice(snapshot)).toEqual([
      { queue: 'ingest', pending: 40, workers: 1, recommended: 3, change: 2, overThreshold: true },
      { queue: 'reports', pending: 0, workers: 0, recommended: null, change: null, overThreshold: false },
    ]);
    expect([describeChange(2), describeChange(-1), describeChange(0), describeChange(null)]).toEqual(['add 2 workers', '1 fewer worker', 'as it is', 'no advice yet']);
  });
});

import { useSyncExternalStore } from 'react';
import { usePreferences } from '../app/context';
import { formatAge, formatTime } from '../data/format';

/** A time in the zone the reader chose (UTC or local), the exact ISO value in its tooltip. */
export function Time({ iso, timeOnly }: { iso: string | null | undefined; timeOnly?: boolean }) {
  const { timeZone } = usePreferences();
  if (!iso) return <span className="muted">—</span>;
  return (
    <time dateTime={iso} title={iso}>
      {formatTime(iso, timeZone, timeOnly)}
    </time>
  );
}

// One shared clock for every "… ago": one timer, ticking every 5 s, for the whole page.
let now = Date.now();
const clockListeners = new Set<() => void>();
let clockTimer: ReturnType<typeof setInterval> | null = null;
function subscribeClock(listener: () => void): () => void {
  clockListeners.add(listener);
  clockTimer ??= setInterval(() => {
    now = Date.now();
    for (const l of [...clockListeners]) l();
  }, 5000);
  return () => {
    clockListeners.delete(listener);
    if (clockListeners.size === 0 && clockTimer) {
      clearInterval(clockTimer);
      clockTimer = null;
    }
  };
}

/** `12 s ago`, kept current; the time itself in the tooltip. */
export function Age({ iso }: { iso: string | null | undefined }) {
  const { timeZone } = usePreferences();
  const at = useSyncExternalStore(subscribeClock, () => now);
  if (!iso) return <span className="muted">—</span>;
  return (
    <time dateTime={iso} title={formatTime(iso, timeZone)}>
      {formatAge(iso, at)}
    </time>
  );
}

/**
 * The reader's choices, remembered in localStorage: the theme and the time zone times are shown
 * in. An external store (subscribe / get), so every component sees one value.
 */

export type ThemeChoice = 'system' | 'light' | 'dark';
export type TimeZoneChoice = 'local' | 'utc';

export interface Preferences {
  readonly theme: ThemeChoice;
  readonly timeZone: TimeZoneChoice;
}

const KEY = 'agentos-ssot:preferences';
const DEFAULTS: Preferences = Object.freeze({ theme: 'system', timeZone: 'local' });

/** What `localStorage` offers that this needs (absent or throwing in some browsers' private modes). */
type Storage = Pick<globalThis.Storage, 'getItem' | 'setItem'>;

export function readPreferences(storage: Storage | undefined): Preferences {
  try {
    const raw = storage?.getItem(KEY);
    if (!raw) return DEFAULTS;
    const parsed = JSON.parse(raw) as Partial<Preferences>;
    return Object.freeze({
      theme: parsed.theme === 'light' || parsed.theme === 'dark' ? parsed.theme : 'system',
      timeZone: parsed.timeZone === 'utc' ? 'utc' : 'local',
    });
  } catch {
    return DEFAULTS;
  }
}

export class PreferenceStore {
  private current: Preferences;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly storage: Storage | undefined) {
    this.current = readPreferences(storage);
  }

  readonly get = (): Preferences => this.current;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  set(change: Partial<Preferences>): void {
    const next = Object.freeze({ ...this.current, ...change });
    if (next.theme === this.current.theme && next.timeZone === this.current.timeZone) return;
    this.current = next;
    try {
      this.storage?.setItem(KEY, JSON.stringify(next));
    } catch {
      // Storage full or refused: the choice holds for this page.
    }
    for (const listener of [...this.listeners]) listener();
  }
}

/** The theme to draw: the choice, or the system's when the choice is `system`. */
export const resolveTheme = (choice: ThemeChoice, systemDark: boolean): 'light' | 'dark' => (choice === 'system' ? (systemDark ? 'dark' : 'light') : choice);

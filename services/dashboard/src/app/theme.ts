import { type PreferenceStore, resolveTheme } from '../data/preferences';

/**
 * Applies the theme to `<html data-theme>` at once — before any component's effect reads a
 * colour (the charts do) — and again whenever the choice or the system's preference changes.
 */
export function followTheme(preferences: PreferenceStore): () => void {
  const media = matchMedia('(prefers-color-scheme: dark)');
  const apply = () => {
    document.documentElement.dataset.theme = resolveTheme(preferences.get().theme, media.matches);
  };
  apply();
  const stop = preferences.subscribe(apply);
  media.addEventListener('change', apply);
  return () => {
    stop();
    media.removeEventListener('change', apply);
  };
}

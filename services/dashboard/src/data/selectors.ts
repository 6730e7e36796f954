import type { LiveView } from './live-store';

/**
 * A selector that returns the same object while its inputs are the same objects. `inputs`
 * picks slices of the view (by reference: the store shares unchanged parts across versions);
 * `compute` derives from them and runs only when one of them changed. With
 * `useSyncExternalStore`, a component re-renders only when its result changed.
 */
export function createSelector<const I extends readonly unknown[], R>(inputs: (view: LiveView) => I, compute: (slices: I) => R): (view: LiveView) => R {
  let last: I | null = null;
  let result!: R;
  return (view) => {
    const slices = inputs(view);
    if (last && slices.length === last.length && slices.every((slice, i) => Object.is(slice, last![i]))) return result;
    last = slices;
    result = compute(slices);
    return result;
  };
}

/** A slice of the snapshot by path, or `undefined` before the first snapshot. */
export const section =
  <K extends keyof NonNullable<LiveView['snapshot']>>(name: K) =>
  (view: LiveView): NonNullable<LiveView['snapshot']>[K] | undefined =>
    view.snapshot?.[name];

/** What a section shows about itself: whether it is stale and the error it could not be built with. */
export interface SectionHealth {
  stale: boolean;
  error: string | null;
}

/** One memoised selector per section name, so `{stale, error}` keeps its identity. */
const healthSelectors = new Map<string, (view: LiveView) => SectionHealth>();
export function sectionHealth(name: string): (view: LiveView) => SectionHealth {
  let selector = healthSelectors.get(name);
  if (!selector) {
    selector = createSelector(
      (view: LiveView) => [view.stale, view.sectionErrors[name] ?? null] ,
      ([stale, error]) => ({ stale, error }),
    );
    healthSelectors.set(name, selector);
  }
  return selector;
}

/** The connection badge's inputs. */
export const selectConnection = createSelector(
  (view: LiveView) => [view.state, view.stale, view.problem, view.paused, view.version, view.latestVersion] ,
  ([state, stale, problem, paused, version, latestVersion]) => ({ state, stale, problem, paused, version, waiting: paused ? Math.max(0, latestVersion - version) : 0 }),
);

export const selectVersion = (view: LiveView): number => view.version;
export const selectHasSnapshot = (view: LiveView): boolean => view.snapshot !== null;

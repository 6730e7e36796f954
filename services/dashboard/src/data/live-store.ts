import type { CentralDataService, ConnectionState, SsotView } from '@agentos/client';
import type { Snapshot } from '@agentos/contracts';
import { shareUnchanged } from './structural-share';

/**
 * What the views read: the snapshot as last published, and what can be said about it. One
 * frozen object, replaced only when something in it changed.
 */
export interface LiveView {
  /** The snapshot shown; null until the first one (never null again). Unchanged parts keep their identity across versions. */
  readonly snapshot: Snapshot | null;
  /** `snapshot.meta.version`, 0 before the first. */
  readonly version: number;
  /** The connection, as it is now — even while paused. */
  readonly state: ConnectionState;
  /** True when what is shown may be out of date (the state is `stale`, or the server marked the copy stale). */
  readonly stale: boolean;
  /** Sections the server could not build (`meta.errors`): shown with their previous value. */
  readonly sectionErrors: Readonly<Record<string, string>>;
  /** Why the socket or HTTP is failing, as text, while it is. */
  readonly problem: string | null;
  /** Live updates are held back: `snapshot` stays as it was when paused. */
  readonly paused: boolean;
  /** While paused: the version the connection has reached (what resume will show). */
  readonly latestVersion: number;
  /** When the server last sent or confirmed the copy (ms since epoch). */
  readonly updatedAt: number | null;
}

/** The part of `CentralDataService` the store uses (a fake in tests). */
export type ViewSource = Pick<CentralDataService, 'view' | 'on'>;

/**
 * Runs `callback` once, later, before a frame is drawn; returns nothing. `soon`: at the next
 * frame, not held back to keep an interval. `frameScheduler()` in a browser.
 */
export type FrameScheduler = (callback: () => void, soon: boolean) => void;

/** The least time between two publishes of the live store: at most ten a second. @default 100 */
export const PUBLISH_INTERVAL_MS = 100;

/**
 * The browser's scheduler: the first animation frame that comes `intervalMs` or more after the
 * previous run, or the next one when that is past or the call is `soon`.
 *
 * Why not every frame: in Chromium a frame that changes anything on the page costs 2–4 ms of the
 * main thread (style, layout, paint, layerize, commit) however little changed, so publishing on
 * every frame under 100 patches a second kept the main thread 37–39 % busy; every 100 ms it is
 * under 20 %, and a reader sees no difference in figures that move ten times a second
 * (bench:dashboard, BENCHMARKS.md).
 */
export function frameScheduler(intervalMs = PUBLISH_INTERVAL_MS): FrameScheduler {
  let last = Number.NEGATIVE_INFINITY;
  return (callback, soon) => {
    const frame = () =>
      requestAnimationFrame(() => {
        last = performance.now();
        callback();
      });
    const wait = soon ? 0 : last + intervalMs - performance.now();
    if (wait > 0) setTimeout(frame, wait);
    else frame();
  };
}

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});

/**
 * The live snapshot outside React: it listens to `CentralDataService` and publishes in an
 * animation frame, at most once per `PUBLISH_INTERVAL_MS`, however many patches arrived in
 * between (100 patches a second cost at most ten renders a second, each of the components whose
 * slice changed). Components read it with `useSyncExternalStore` and a selector (see
 * `use-live.ts`). Nothing waits for the interval while no snapshot is shown, nor after a pause
 * or a resume. Pausing holds the snapshot still while the connection goes on; resuming shows the
 * latest at the next frame.
 */
export class LiveStore {
  private readonly listeners = new Set<() => void>();
  private current: LiveView;
  /** A publish is on its way: `soon` at the next frame, `later` after the interval. */
  private scheduled: 'no' | 'soon' | 'later' = 'no';
  private paused = false;
  private readonly unlisten: () => void;

  constructor(
    private readonly source: ViewSource,
    private readonly schedule: FrameScheduler = frameScheduler(),
  ) {
    this.current = this.compose(source.view, null);
    this.unlisten = source.on('change', () => this.invalidate());
  }

  /** For `useSyncExternalStore`: the same object until the next publish that changed something. */
  readonly getView = (): LiveView => this.current;

  /** For `useSyncExternalStore`: called at most once per publish. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Holds the snapshot shown as it is; the connection badge keeps moving. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.invalidate(true);
  }

  /** Shows the latest snapshot (at the next frame) and follows it again. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.invalidate(true);
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Stops listening to the source. */
  dispose(): void {
    this.unlisten();
    this.listeners.clear();
  }

  /**
   * Asks for a publish. `soon` (the reader paused or resumed), or while nothing is shown yet (the
   * first snapshot must not wait): at the next frame, even when one is already on its way for
   * later — that one then finds nothing to do, or publishes a little early.
   */
  private invalidate(soon = false): void {
    const now = soon || this.current.snapshot === null;
    if (this.scheduled === 'soon' || (this.scheduled === 'later' && !now)) return;
    this.scheduled = now ? 'soon' : 'later';
    this.schedule(() => {
      if (this.scheduled === 'no') return;
      this.scheduled = 'no';
      this.publish();
    }, now);
  }

  private publish(): void {
    const next = this.compose(this.source.view, this.current);
    if (sameView(next, this.current)) return;
    this.current = next;
    for (const listener of [...this.listeners]) listener();
  }

  private compose(view: SsotView, previous: LiveView | null): LiveView {
    const held = this.paused && previous?.snapshot ? previous.snapshot : null;
    const snapshot = held ?? (previous ? shareUnchanged(previous.snapshot, view.snapshot) : view.snapshot);
    const shown = snapshot ?? null;
    const problem = view.errors.websocket?.message ?? view.errors.http?.message ?? null;
    return Object.freeze({
      snapshot: shown,
      version: shown?.meta.version ?? 0,
      state: view.state,
      stale: view.stale,
      sectionErrors: shown ? (shareUnchanged(previous?.sectionErrors, shown.meta.errors) ?? EMPTY) : EMPTY,
      problem: view.state === 'live' ? null : problem,
      paused: this.paused,
      latestVersion: view.version,
      updatedAt: held ? (previous?.updatedAt ?? null) : view.updatedAt,
    });
  }
}

function sameView(a: LiveView, b: LiveView): boolean {
  return (
    a.snapshot === b.snapshot &&
    a.state === b.state &&
    a.stale === b.stale &&
    a.sectionErrors === b.sectionErrors &&
    a.problem === b.problem &&
    a.paused === b.paused &&
    a.latestVersion === b.latestVersion
    // updatedAt alone moves on every HTTP confirmation (304): not worth a render of its own.
  );
}

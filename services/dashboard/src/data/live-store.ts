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

/** Runs `callback` before the next frame; returns nothing. `requestAnimationFrame` in a browser. */
export type FrameScheduler = (callback: () => void) => void;

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});

/**
 * The live snapshot outside React: it listens to `CentralDataService` and publishes at most once
 * per animation frame, however many patches arrived in between (100 patches a second cost at
 * most one render per frame). Components read it with `useSyncExternalStore` and a selector
 * (see `use-live.ts`). Pausing holds the snapshot still while the connection goes on; resuming
 * shows the latest at once.
 */
export class LiveStore {
  private readonly listeners = new Set<() => void>();
  private current: LiveView;
  private scheduled = false;
  private paused = false;
  private readonly unlisten: () => void;

  constructor(
    private readonly source: ViewSource,
    private readonly schedule: FrameScheduler = (callback) => requestAnimationFrame(() => callback()),
  ) {
    this.current = this.compose(source.view, null);
    this.unlisten = source.on('change', () => this.invalidate());
  }

  /** For `useSyncExternalStore`: the same object until the next publish that changed something. */
  readonly getView = (): LiveView => this.current;

  /** For `useSyncExternalStore`: called at most once per frame. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Holds the snapshot shown as it is; the connection badge keeps moving. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.invalidate();
  }

  /** Shows the latest snapshot (at the next frame) and follows it again. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.invalidate();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Stops listening to the source. */
  dispose(): void {
    this.unlisten();
    this.listeners.clear();
  }

  private invalidate(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      this.publish();
    });
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

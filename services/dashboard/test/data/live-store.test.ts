// The live store: one publish per scheduled frame however many changes (in the browser a frame at
// most every PUBLISH_INTERVAL_MS), unchanged parts shared across versions (so selectors and React
// skip them), pause holding the snapshot while the badge moves.
import type { SsotView } from '@agentos/client';
import { frameScheduler, LiveStore, PUBLISH_INTERVAL_MS, type ViewSource } from '../../src/data/live-store';
import { createSelector, sectionHealth, selectConnection } from '../../src/data/selectors';
import { shareUnchanged } from '../../src/data/structural-share';

function snapshotAt(version: number, pending: number, extra: Record<string, unknown> = {}) {
  return {
    meta: { version, generated_at: '2026-12-03T10:00:00.000Z', build_ms: 1, stale: false, errors: {} },
    dashboard: { queue: { pending, processing: 1, completed: 2 }, workers: { total: 2, active: 1, details: [{ id: 'w1', cpu: 3 }], queues: [] } },
    analytics: { jobs_per_minute: [{ t: '2026-12-03T10:00:00.000Z', total: 1, completed: 1, failed: 0, cancelled: 0 }] },
    ...extra,
  } as unknown as NonNullable<SsotView['snapshot']>;
}

class FakeSource implements ViewSource {
  view: SsotView = Object.freeze({ snapshot: null, version: 0, state: 'idle', stale: false, source: null, sectionErrors: {}, errors: {}, gateway: null, updatedAt: null });
  private listener: ((view: SsotView) => void) | null = null;
  on = ((event: string, listener: (view: SsotView) => void) => {
    if (event === 'change') this.listener = listener;
    return () => {
      this.listener = null;
    };
  }) as ViewSource['on'];
  change(partial: Partial<SsotView>): void {
    const snapshot = partial.snapshot ?? this.view.snapshot;
    this.view = Object.freeze({ ...this.view, ...partial, version: snapshot?.meta.version ?? 0 });
    this.listener?.(this.view);
  }
}

function setup() {
  const source = new FakeSource();
  const frames: (() => void)[] = [];
  const store = new LiveStore(source, (callback) => frames.push(callback));
  const notified: number[] = [];
  store.subscribe(() => notified.push(store.getView().version));
  const frame = () => frames.splice(0).forEach((callback) => callback());
  return { source, store, frames, frame, notified };
}

describe('LiveStore', () => {
  it('publishes once per frame, however many changes came in it, with the last of them', () => {
    const { source, store, frames, frame, notified } = setup();
    for (let v = 1; v <= 100; v += 1) source.change({ snapshot: snapshotAt(v, v), state: 'live' });
    expect(frames).toHaveLength(1);
    expect(notified).toEqual([]);
    frame();
    expect(notified).toEqual([100]);
    expect(store.getView().snapshot?.dashboard.queue.pending).toBe(100);
    frame();
    expect(notified).toEqual([100]);
  });

  it('keeps the identity of every part a new version did not change', () => {
    const { source, store, frame } = setup();
    source.change({ snapshot: snapshotAt(1, 5), state: 'live' });
    frame();
    const first = store.getView().snapshot!;
    // A new tree (the client applies patches to a deep clone), different only in queue.pending.
    source.change({ snapshot: snapshotAt(2, 6) });
    frame();
    const second = store.getView().snapshot!;
    expect(second).not.toBe(first);
    expect(second.dashboard.queue).not.toBe(first.dashboard.queue);
    expect(second.dashboard.workers).toBe(first.dashboard.workers);
    expect(second.dashboard.workers.details[0]).toBe(first.dashboard.workers.details[0]);
    expect(second.analytics).toBe(first.analytics);
  });

  it('does not notify when a change leaves the view as it was', () => {
    const { source, frame, notified } = setup();
    source.change({ snapshot: snapshotAt(1, 5), state: 'live' });
    frame();
    source.change({ updatedAt: Date.now() });
    frame();
    expect(notified).toEqual([1]);
  });

  it('holds the snapshot while paused, tells how far the connection got, and shows the latest on resume', () => {
    const { source, store, frame } = setup();
    source.change({ snapshot: snapshotAt(1, 5), state: 'live' });
    frame();
    store.pause();
    frame();
    source.change({ snapshot: snapshotAt(2, 6) });
    source.change({ snapshot: snapshotAt(3, 7) });
    frame();
    expect(store.getView()).toMatchObject({ paused: true, version: 1, latestVersion: 3 });
    expect(store.getView().snapshot?.dashboard.queue.pending).toBe(5);
    expect(selectConnection(store.getView())).toMatchObject({ paused: true, waiting: 2 });
    // The badge is not paused.
    source.change({ state: 'reconnecting' });
    frame();
    expect(store.getView()).toMatchObject({ state: 'reconnecting', version: 1 });
    store.resume();
    frame();
    expect(store.getView()).toMatchObject({ paused: false, version: 3 });
    expect(store.getView().snapshot?.dashboard.queue.pending).toBe(7);
  });

  it('stops listening on dispose', () => {
    const { source, store, frames } = setup();
    store.dispose();
    source.change({ snapshot: snapshotAt(1, 1) });
    expect(frames).toHaveLength(0);
  });
});

describe('frameScheduler', () => {
  const hadFrame = 'requestAnimationFrame' in globalThis;
  beforeEach(() => {
    // A 60 Hz display, before the fake clock (which then fakes it too).
    if (!hadFrame) Object.assign(globalThis, { requestAnimationFrame: (callback: (t: number) => void) => setTimeout(() => callback(performance.now()), 16) });
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
    if (!hadFrame) delete (globalThis as { requestAnimationFrame?: unknown }).requestAnimationFrame;
  });

  it('publishes at the next frame, then no sooner than PUBLISH_INTERVAL_MS after the last: ten a second under 100 patches a second', () => {
    const source = new FakeSource();
    const store = new LiveStore(source, frameScheduler());
    const shown: number[] = [];
    store.subscribe(() => shown.push(store.getView().version));
    source.change({ snapshot: snapshotAt(1, 1), state: 'live' });
    jest.advanceTimersByTime(20);
    expect(shown).toEqual([1]);
    for (let v = 2; v <= 101; v += 1) {
      source.change({ snapshot: snapshotAt(v, v) });
      jest.advanceTimersByTime(10);
    }
    jest.advanceTimersByTime(PUBLISH_INTERVAL_MS + 20);
    expect(shown.at(-1)).toBe(101);
    expect(shown.length).toBeGreaterThanOrEqual(8);
    expect(shown.length).toBeLessThanOrEqual(12);
    for (let i = 1; i < shown.length; i += 1) expect(shown[i]).toBeGreaterThan(shown[i - 1]!);
  });

  it('holds back neither the first snapshot, after a state change was just published, nor a pause or a resume', () => {
    const source = new FakeSource();
    const store = new LiveStore(source, frameScheduler());
    const shown: string[] = [];
    store.subscribe(() => shown.push(`${store.getView().state} ${store.getView().version}${store.isPaused ? ' paused' : ''}`));
    source.change({ state: 'reconnecting' });
    jest.advanceTimersByTime(20);
    source.change({ state: 'stale' });
    jest.advanceTimersByTime(10);
    source.change({ snapshot: snapshotAt(1, 1), state: 'live' });
    jest.advanceTimersByTime(20);
    expect(shown).toEqual(['reconnecting 0', 'live 1']);
    source.change({ snapshot: snapshotAt(2, 2) });
    store.pause();
    jest.advanceTimersByTime(20);
    expect(shown).toEqual(['reconnecting 0', 'live 1', 'live 1 paused']);
    store.resume();
    jest.advanceTimersByTime(20);
    expect(shown).toEqual(['reconnecting 0', 'live 1', 'live 1 paused', 'live 2']);
  });
});

describe('selectors', () => {
  it('recompute only when an input changed, and return the same object otherwise', () => {
    const { source, store, frame } = setup();
    let runs = 0;
    const select = createSelector(
      (view) => [view.snapshot?.dashboard.workers],
      ([workers]) => {
        runs += 1;
        return { count: workers?.details.length ?? 0 };
      },
    );
    source.change({ snapshot: snapshotAt(1, 5), state: 'live' });
    frame();
    const first = select(store.getView());
    source.change({ snapshot: snapshotAt(2, 6) });
    frame();
    expect(select(store.getView())).toBe(first);
    expect(runs).toBe(1);
  });

  it('say where a section is stale or could not be built, with the same object while unchanged', () => {
    const { source, store, frame } = setup();
    const errored = snapshotAt(1, 5);
    (errored.meta as { errors: Record<string, string> }).errors = { analytics: 'timeout' };
    source.change({ snapshot: errored, state: 'live', stale: true });
    frame();
    const health = sectionHealth('analytics')(store.getView());
    expect(health).toEqual({ stale: true, error: 'timeout' });
    expect(sectionHealth('analytics')(store.getView())).toBe(health);
    expect(sectionHealth('queue')(store.getView())).toEqual({ stale: true, error: null });
  });
});

describe('shareUnchanged', () => {
  it('gives back the previous object for deep-equal values and new ones where anything differs', () => {
    const prev = { a: { b: [1, 2, { c: 3 }] }, d: 'x' };
    expect(shareUnchanged(prev, JSON.parse(JSON.stringify(prev)))).toBe(prev);
    const next = shareUnchanged(prev, { a: { b: [1, 2, { c: 4 }] }, d: 'x' });
    expect(next).not.toBe(prev);
    expect(next).toEqual({ a: { b: [1, 2, { c: 4 }] }, d: 'x' });
    expect(shareUnchanged(prev, { a: prev.a, d: 'x', e: undefined })).not.toBe(prev);
    expect(shareUnchanged([1, 2], [1, 2, 3])).toEqual([1, 2, 3]);
    expect(shareUnchanged(prev, null)).toBeNull();
  });
});

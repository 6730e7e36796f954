type AnyListener = (...args: unknown[]) => void;

/**
 * A small typed event emitter that runs in browsers and Node alike (no `events` import). A
 * listener that throws does not stop the others, nor the caller: its error goes to `onError`.
 */
export class Listeners<E extends { [K in keyof E]: unknown[] }> {
  private readonly byEvent = new Map<keyof E, Set<AnyListener>>();

  constructor(private readonly onError: (error: unknown, event: keyof E) => void) {}

  /** Adds `listener`; returns the function that removes it. */
  on<K extends keyof E>(event: K, listener: (...args: E[K]) => void): () => void {
    let set = this.byEvent.get(event);
    if (!set) this.byEvent.set(event, (set = new Set()));
    const stored = listener as unknown as AnyListener;
    set.add(stored);
    return () => {
      set.delete(stored);
    };
  }

  emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const set = this.byEvent.get(event);
    if (!set) return;
    // A copy: a listener may remove itself (or others) while we iterate.
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        this.onError(error, event);
      }
    }
  }

  clear(): void {
    this.byEvent.clear();
  }
}

/** One watched loop: it calls `progress()` each time it gets its work done. */
export interface LoopWatch {
  readonly name: string;
  progress(): void;
  /** The loop ended on purpose (shutdown): no longer watched. */
  stop(): void;
}

/** A loop past its deadline, as `/healthz` reports it. */
export interface StuckLoop {
  loop: string;
  /** Since its last progress (or since it was registered, if it never made any). */
  since_ms: number;
  deadline_ms: number;
}

/**
 * Liveness for a process whose work happens in background loops. A loop is stuck when it has not
 * made progress within its deadline — hung on a half-dead connection, or failing every round —
 * and `/healthz` turns red while any is, so Kubernetes restarts the pod. Progress means the loop
 * did its job (read the stream, swept, warmed, got an answer from Redis), not merely that it ran.
 */
export class Watchdog {
  private readonly loops = new Map<string, { deadlineMs: number; last: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Watches the loop `name` (one per name: a second call replaces the first). */
  watch(name: string, deadlineMs: number): LoopWatch {
    const entry = { deadlineMs, last: this.now() };
    this.loops.set(name, entry);
    return {
      name,
      progress: () => {
        entry.last = this.now();
      },
      stop: () => {
        if (this.loops.get(name) === entry) this.loops.delete(name);
      },
    };
  }

  stuck(): StuckLoop[] {
    const now = this.now();
    const stuck: StuckLoop[] = [];
    for (const [loop, { deadlineMs, last }] of this.loops) {
      if (now - last > deadlineMs) stuck.push({ loop, since_ms: now - last, deadline_ms: deadlineMs });
    }
    return stuck;
  }
}

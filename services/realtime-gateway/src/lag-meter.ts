/**
 * How late a message from Redis is handled, from the timestamp its writer put in it. Two clocks
 * are compared (the writer's and this host's), so a constant skew between them would read as lag:
 * the meter subtracts the smallest difference seen over the last minute or two, which is the skew
 * plus the fastest delivery. What remains is the time the message waited — in Redis, the kernel,
 * or this process's backlog after a stall.
 *
 * Until it has seen a message delivered on time it cannot tell skew from waiting, so it starts
 * from no skew: the first window holds a sample of 0 beside the real ones. Without it, a gateway
 * stopped before its first message took the first of its backlog (seconds old) for the skew and
 * read the whole backlog as on time (gateway-stall test, flaky in CI). The cost: a writer whose
 * clock is behind this host's reads as that much lag for the meter's first one or two windows.
 */
export class LagMeter {
  private windowStart: number;
  private currentMin = 0;
  private previousMin = Number.POSITIVE_INFINITY;

  constructor(
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {
    this.windowStart = now();
  }

  /** The lag of a message stamped `stampMs` (its writer's clock), ms, never below 0. */
  lag(stampMs: number): number {
    const now = this.now();
    if (!Number.isFinite(stampMs)) return 0;
    if (now - this.windowStart > this.windowMs) {
      this.previousMin = this.currentMin;
      this.currentMin = Number.POSITIVE_INFINITY;
      this.windowStart = now;
    }
    const raw = now - stampMs;
    this.currentMin = Math.min(this.currentMin, raw);
    return Math.max(0, raw - Math.min(this.currentMin, this.previousMin));
  }
}

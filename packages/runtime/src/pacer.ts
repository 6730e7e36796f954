/**
 * How long a loop rests after a round — a collector's build (REFRESH_MIN_INTERVAL_MS), a
 * dispatcher's batch (EVENT_MIN_INTERVAL_MS): a token bucket that earns one round per interval
 * and holds at most `burst` of them.
 *
 * Idle, the bucket is full and a round starts at once. Under a load that asks more often than
 * once per interval, rounds average one per interval, as a plain "one interval from the start of
 * the last round" rule would give. Where the two differ is a producer that asks about once per
 * interval — a bridge posting every 40–50 ms, a dispatcher batch per bridge read — with some
 * jitter: under the plain rule, a request that comes late pushes the next round's slot back, the
 * next request then waits, and the delay carries over from request to request for as long as the
 * producer is barely slower than the interval (bench:bridges measured 20 ms more at p50 at a
 * 51 ms producer against a 50 ms interval for builds, and a dispatcher batch waiting up to its
 * whole 40 ms interval at p90 behind the BullMQ bridge). With a burst of two, the round after a
 * late one may start up to one interval early, and nobody waits for somebody else's lateness.
 */
export class Pacer {
  private tokens: number;
  private at: number;

  /**
   * @param intervalMs one round earned per this long; 0: never rest
   * @param burst rounds the bucket holds, the most that may start back to back @default 2
   * @param now the clock, ms (tests pass their own) @default performance.now
   */
  constructor(
    private readonly intervalMs: number,
    private readonly burst = 2,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.at = now();
  }

  /** Spends one round; call as a round starts. Unpaced (interval 0), nothing to spend. */
  take(): void {
    if (this.intervalMs <= 0) return;
    this.refill();
    this.tokens -= 1;
  }

  /** How long to wait from now before the next round may start: 0 when one is in the bucket. */
  restMs(): number {
    if (this.intervalMs <= 0) return 0;
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) * this.intervalMs);
  }

  private refill(): void {
    const now = this.now();
    if (this.intervalMs > 0) this.tokens = Math.min(this.burst, this.tokens + (now - this.at) / this.intervalMs);
    this.at = now;
  }
}

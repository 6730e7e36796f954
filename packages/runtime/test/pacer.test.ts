import { Pacer } from '../src/pacer';

/**
 * A paced loop (the collector's refresh consumer, say), on a simulated clock: requests arrive at `arrivals` (ms); a build
 * starts when one waits and the pacer allows, takes `buildMs`, answers every request that
 * arrived before it started. Returns each request's wait from arrival to its build's start.
 */
function simulate(arrivals: number[], intervalMs: number, burst: number, buildMs = 5): { waits: number[]; starts: number[] } {
  let now = 0;
  const pacer = new Pacer(intervalMs, burst, () => now);
  const waits: number[] = [];
  const starts: number[] = [];
  let next = 0;
  let free = 0; // when the consumer may start its next build (build end + rest)
  while (next < arrivals.length) {
    now = Math.max(free, arrivals[next]!);
    pacer.take();
    starts.push(now);
    while (next < arrivals.length && arrivals[next]! <= now) waits.push(now - arrivals[next++]!);
    now += buildMs;
    free = now + pacer.restMs();
  }
  return { waits, starts };
}

const p99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.99)]!;

describe('Pacer', () => {
  it('lets the first build go at once and asks for rest once the bucket is spent', () => {
    let now = 1000;
    const pacer = new Pacer(50, 2, () => now);
    expect(pacer.restMs()).toBe(0);
    pacer.take();
    expect(pacer.restMs()).toBe(0);
    pacer.take();
    expect(pacer.restMs()).toBe(50);
    now += 20;
    expect(pacer.restMs()).toBe(30);
    now += 30;
    expect(pacer.restMs()).toBe(0);
  });

  it('never paces with an interval of 0', () => {
    const pacer = new Pacer(0);
    for (let i = 0; i < 10; i += 1) pacer.take();
    expect(pacer.restMs()).toBe(0);
  });

  it('under a load that asks every millisecond, builds once per interval on average', () => {
    const arrivals = Array.from({ length: 10_000 }, (_, i) => i);
    const { starts } = simulate(arrivals, 50, 2);
    // 10 s at one build per 50 ms, plus the burst the bucket held at the start.
    expect(starts.length).toBeLessThanOrEqual(10_000 / 50 + 2);
    expect(starts.length).toBeGreaterThanOrEqual(10_000 / 50 - 2);
  });

  it('does not make a producer just slower than the interval wait for its own jitter (the plain rule does)', () => {
    // A request every 51 ms; every tenth comes 20 ms late (a slow dispatcher batch).
    const arrivals = Array.from({ length: 1000 }, (_, i) => i * 51 + (i % 10 === 5 ? 20 : 0));
    const bucket = simulate(arrivals, 50, 2);
    const plain = simulate(arrivals, 50, 1);
    // The plain rule (a bucket of one: one interval from the start of the last build) carries the
    // late request's delay over to the ones after it.
    expect(p99(plain.waits)).toBeGreaterThanOrEqual(15);
    expect(p99(bucket.waits)).toBe(0);
    // And the bucket does not build more for it: one build per request, as the plain rule.
    expect(bucket.starts.length).toBe(arrivals.length);
  });
});

import { LagMeter } from '../src/lag-meter';

/** A meter on a clock the test moves. */
function meterAt(start = 1_000_000, windowMs = 60_000) {
  let now = start;
  const meter = new LagMeter(windowMs, () => now);
  return {
    meter,
    advance(ms: number) {
      now += ms;
    },
    get now() {
      return now;
    },
  };
}

describe('LagMeter', () => {
  it('reads a first message that waited as late, not as the skew', () => {
    const clock = meterAt();
    // Stopped before its first message: the backlog's first was stamped 3 s ago.
    expect(clock.meter.lag(clock.now - 3000)).toBe(3000);
    expect(clock.meter.lag(clock.now - 20)).toBe(20);
  });

  it('absorbs a writer whose clock is ahead at once', () => {
    const clock = meterAt();
    // The writer is 500 ms ahead: its stamps are in this host's future.
    expect(clock.meter.lag(clock.now + 500 - 5)).toBe(0);
    clock.advance(1000);
    expect(clock.meter.lag(clock.now + 500 - 5 - 800)).toBe(800);
  });

  it('absorbs a writer whose clock is behind once the first windows have passed', () => {
    const clock = meterAt(1_000_000, 1000);
    const stamp = (waitedMs: number) => clock.now - 400 - waitedMs; // 400 ms behind
    expect(clock.meter.lag(stamp(2))).toBe(402); // the first windows assume no skew
    for (let i = 0; i < 3; i++) {
      clock.advance(1001);
      clock.meter.lag(stamp(2));
    }
    expect(clock.meter.lag(stamp(2))).toBe(0);
    expect(clock.meter.lag(stamp(700))).toBe(698);
  });

  it('keeps the baseline across an idle spell and a stall', () => {
    const clock = meterAt();
    clock.meter.lag(clock.now - 3);
    clock.advance(10 * 60_000);
    // The first message after ten idle minutes is a backlog's: still measured against the old baseline.
    expect(clock.meter.lag(clock.now - 2503)).toBeGreaterThanOrEqual(2500);
  });

  it('reads a stamp that is not a time as no lag', () => {
    const clock = meterAt();
    expect(clock.meter.lag(Number.NaN)).toBe(0);
  });
});

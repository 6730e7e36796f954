import { percentileOfHistogram } from '../src/sections/analytics';
import { previousStreamId } from '../src/dispatched-upto';

// Pure logic of the collector, beside the integration tests that exercise it against real
// PostgreSQL and Redis.

describe('percentileOfHistogram', () => {
  it('is null for an empty histogram', () => {
    expect(percentileOfHistogram([], 0.95)).toBeNull();
    expect(percentileOfHistogram([{ bucket: 10, n: 0 }], 0.95)).toBeNull();
  });

  it('answers the geometric middle of the bucket the nearest rank falls in', () => {
    // 100 durations: 94 in bucket 10, 6 in bucket 20. Rank ceil(0.95 * 100) = 95 is in bucket 20.
    expect(percentileOfHistogram([{ bucket: 10, n: 94 }, { bucket: 20, n: 6 }], 0.95)).toBeCloseTo(1.05 ** 20.5, 6);
    // With 95 in bucket 10 the 95th is still there.
    expect(percentileOfHistogram([{ bucket: 10, n: 95 }, { bucket: 20, n: 5 }], 0.95)).toBeCloseTo(1.05 ** 10.5, 6);
  });

  it('stays within 2.5 % of the exact nearest-rank percentile', () => {
    const durations = Array.from({ length: 5000 }, (_, i) => Math.round(20 + 3000 * ((i * 7919) % 5000) / 5000) ** 1.1);
    const counts = new Map<number, number>();
    for (const d of durations) {
      const bucket = Math.floor(Math.log(Math.max(d, 1)) / Math.log(1.05));
      counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
    }
    const buckets = [...counts].sort(([a], [b]) => a - b).map(([bucket, n]) => ({ bucket, n }));
    const sorted = [...durations].sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.95, 0.99]) {
      const exact = sorted[Math.ceil(q * sorted.length) - 1]!;
      expect(Math.abs(percentileOfHistogram(buckets, q)! / exact - 1)).toBeLessThanOrEqual(0.025);
    }
  });
});

describe('previousStreamId', () => {
  it('steps back one sequence number, or to the last id of the previous millisecond', () => {
    expect(previousStreamId('1700000000000-5')).toBe('1700000000000-4');
    expect(previousStreamId('1700000000000-0')).toBe('1699999999999-18446744073709551615');
    expect(previousStreamId('0-0')).toBe('0-0');
  });
});

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type WarmerMetrics = ReturnType<typeof createWarmerMetrics>;

export function createWarmerMetrics(registry: Registry) {
  let lastSuccess = 0;
  return {
    warms: new Counter({
      name: 'ssot_warms_total',
      help: 'Warms run by this replica, by result (ok, incomplete, timeout, error)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'ssot_warm_duration_seconds',
      help: 'From the refresh request to the announced new version',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    bytes: new Gauge({ name: 'ssot_warm_bytes', help: 'Size of the snapshot the last warm produced', registers: [registry] }),
    leader: new Gauge({ name: 'ssot_warmer_leader', help: '1 while this replica holds the warming lease', registers: [registry] }),
    age: new Gauge({
      name: 'ssot_warm_age_seconds',
      help: 'Seconds since this replica last warmed successfully (-1 before the first)',
      registers: [registry],
      collect() {
        this.set(lastSuccess === 0 ? -1 : (Date.now() - lastSuccess) / 1000);
      },
    }),
    succeeded() {
      lastSuccess = Date.now();
    },
  };
}

import { Counter, Gauge, type Registry } from 'prom-client';
import type { SnapshotSource } from './snapshot-store';

export type ApiMetrics = ReturnType<typeof createApiMetrics>;

export function createApiMetrics(registry: Registry) {
  const reads = new Counter({
    name: 'ssot_reads_total',
    help: 'Snapshot reads (full or one section), by where the answer came from',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const counts: Record<SnapshotSource, number> = { cache: 0, rebuilt: 0, stale: 0 };
  new Gauge({
    name: 'ssot_cache_hit_ratio',
    help: 'Share of snapshot reads answered without a rebuild since start (target > 0.95)',
    registers: [registry],
    collect() {
      const total = counts.cache + counts.rebuilt + counts.stale;
      this.set(total === 0 ? 1 : counts.cache / total);
    },
  });
  return {
    read(source: SnapshotSource) {
      counts[source] += 1;
      reads.inc({ source });
    },
    rebuildRequests: new Counter({
      name: 'ssot_rebuild_requests_total',
      help: 'Rebuilds this replica asked the collectors for after a cache miss',
      registers: [registry],
    }),
    notModified: new Counter({ name: 'ssot_not_modified_total', help: '304 answers to If-None-Match', registers: [registry] }),
  };
}

import { Counter, Gauge, type Registry } from 'prom-client';
import type { SnapshotSource } from './snapshot-store';

export type ApiMetrics = ReturnType<typeof createApiMetrics>;

/** Why `POST /api/events` refused a request (the label of `ssot_events_refused_total`). */
export type RefusalReason = 'unauthorized' | 'invalid' | 'too_large' | 'rate_limited';

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
    eventsAccepted: new Counter({
      name: 'ssot_events_accepted_total',
      help: 'Events newly put on the event stream by POST /api/events, by event name',
      labelNames: ['name'] as const,
      registers: [registry],
    }),
    eventsDuplicates: new Counter({
      name: 'ssot_events_duplicates_total',
      help: 'Events posted again with an id already accepted (no effect)',
      registers: [registry],
    }),
    eventsRefused: new Counter({
      // Requests, not events: a refused body is often never read, so its events are not known.
      name: 'ssot_events_refused_total',
      help: 'POST /api/events requests refused, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  };
}

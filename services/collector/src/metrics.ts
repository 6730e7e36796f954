import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type CollectorMetrics = ReturnType<typeof createCollectorMetrics>;

export function createCollectorMetrics(registry: Registry) {
  return {
    builds: new Counter({
      name: 'ssot_collector_builds_total',
      help: 'Snapshot builds written, by kind (full or partial)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    buildDuration: new Histogram({
      name: 'ssot_collector_build_duration_seconds',
      help: 'Wall time of one build, all requested sections in parallel',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    sectionDuration: new Histogram({
      name: 'ssot_collector_section_duration_seconds',
      help: 'Time to build one section',
      labelNames: ['section'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    sectionFailures: new Counter({
      name: 'ssot_collector_section_failures_total',
      help: 'Section builds that failed or timed out (the previous value was kept)',
      labelNames: ['section'] as const,
      registers: [registry],
    }),
    requests: new Counter({
      name: 'ssot_collector_refresh_requests_total',
      help: 'Refresh requests read from the stream, by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    patchSeconds: new Histogram({
      name: 'ssot_collector_patch_duration_seconds',
      help: 'Time to compute the JSON Patch of one build against the snapshot it replaces (once per version, for every gateway)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05],
      registers: [registry],
    }),
    patches: new Counter({
      name: 'ssot_collector_patches_total',
      help: 'Versions written with their patch published (published), or without one because another write came in between or the base was unknown (none): gateways then fetch the snapshot',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    workerReads: new Counter({
      name: 'ssot_collector_worker_reads_total',
      help: 'Builds that read the workers (read), or reused those an earlier build read because no worker state had changed since (reused)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    snapshotBytes: new Gauge({ name: 'ssot_snapshot_bytes', help: 'Size of the last snapshot written', registers: [registry] }),
    snapshotVersion: new Gauge({ name: 'ssot_snapshot_version', help: 'Version of the last snapshot written', registers: [registry] }),
  };
}

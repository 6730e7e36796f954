import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type BridgeMetrics = ReturnType<typeof createBridgeMetrics>;

export function createBridgeMetrics(registry: Registry) {
  return {
    read: new Counter({
      name: 'ssot_bullmq_entries_read_total',
      help: 'Entries read from BullMQ event streams, by queue',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    posted: new Counter({
      name: 'ssot_bullmq_events_posted_total',
      help: 'SSOT events the api accepted (202), by name',
      labelNames: ['name'] as const,
      registers: [registry],
    }),
    dropped: new Counter({
      name: 'ssot_bullmq_events_dropped_total',
      help: 'Events given up on, by reason: refused by the api (400), or a BullMQ id the SSOT cannot take (invalid_job_id)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    rounds: new Counter({ name: 'ssot_bullmq_reads_total', help: 'Reads of the event streams (each carries every queue read here)', registers: [registry] }),
    ignored: new Counter({
      name: 'ssot_bullmq_entries_ignored_total',
      help: 'Stream entries that map to no SSOT event (drained, stalled, retries-exhausted, a repeated waiting, …)',
      registers: [registry],
    }),
    postFailures: new Counter({
      name: 'ssot_bullmq_post_failures_total',
      help: 'Rounds whose events the api did not take (network, 5xx, 429 past retries): read again from the saved position',
      registers: [registry],
    }),
    lost: new Counter({
      name: 'ssot_bullmq_entries_lost_total',
      help: 'Event stream entries BullMQ trimmed before the bridge read them (their events are lost: streams.events.maxLen too small for the outage)',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'ssot_bullmq_lag_seconds',
      help: 'Per queue read by this replica: time between the newest entry of the stream and the saved read position',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    age: new Histogram({
      name: 'ssot_bullmq_event_age_seconds',
      help: 'From the BullMQ event (its stream entry time) to the api accepting the SSOT event',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
      registers: [registry],
    }),
    queuesRead: new Gauge({ name: 'ssot_bullmq_queues_read', help: 'Queues whose event stream this replica reads (holds the lease of)', registers: [registry] }),
    queuesKnown: new Gauge({ name: 'ssot_bullmq_queues_known', help: 'Queues configured or discovered under the prefix', registers: [registry] }),
    workers: new Gauge({ name: 'ssot_bullmq_workers', help: 'Workers in BullMQ\'s worker list at the last poll (poller replica only)', registers: [registry] }),
    commands: new Counter({
      name: 'ssot_bullmq_commands_total',
      help: 'Commands carried out, by action and outcome (ok, refused)',
      labelNames: ['action', 'outcome'] as const,
      registers: [registry],
    }),
  };
}

import type { RedisKeys } from '@agentos/contracts';
import { DISPATCHER_GROUP } from '@agentos/contracts';
import type { Redis } from '@agentos/runtime';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type DispatcherMetrics = ReturnType<typeof createDispatcherMetrics>;

export function createDispatcherMetrics(registry: Registry, redis: Redis, keys: RedisKeys) {
  return {
    processed: new Counter({
      name: 'ssot_events_processed_total',
      help: 'Events handled, by name and outcome (applied, duplicate, failed, dead_lettered)',
      labelNames: ['name', 'outcome'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'ssot_dispatch_latency_seconds',
      help: 'From the event entering the stream to all its branches done',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    deadLetters: new Counter({ name: 'ssot_events_dead_lettered_total', help: 'Events moved to the dead-letter stream', registers: [registry] }),
    actionFailures: new Counter({
      name: 'ssot_action_failures_total',
      help: 'Dispatch actions that failed (the event is retried)',
      labelNames: ['action'] as const,
      registers: [registry],
    }),
    alertsDelivered: new Counter({
      name: 'ssot_alerts_delivered_total',
      help: 'alert_ops webhook posts from the outbox, by outcome (delivered; failed: retried later; given_up: after the last attempt)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    streamState: new Gauge({
      name: 'ssot_event_stream',
      help: 'The event stream as the dispatchers see it: lag (entries not yet read by the group), pending (read, not acknowledged), dead (dead-letter length)',
      labelNames: ['state'] as const,
      registers: [registry],
      async collect() {
        try {
          const groups = (await redis.xinfo('GROUPS', keys.events)) as unknown[][];
          for (const group of groups) {
            const info = toObject(group);
            if (info.name !== DISPATCHER_GROUP) continue;
            this.set({ state: 'lag' }, Number(info.lag ?? 0));
            this.set({ state: 'pending' }, Number(info.pending ?? 0));
          }
          this.set({ state: 'dead' }, await redis.xlen(keys.eventsDeadLetter));
        } catch {
          /* no stream yet, or Redis away: the gauge keeps its last values */
        }
      },
    }),
    // Read from the shared hash at scrape time, so every replica reports the same advice.
    recommended: new Gauge({
      name: 'agentos_recommended_workers',
      help: 'Workers consider_scaling recommends per queue (for KEDA or an HPA)',
      labelNames: ['queue'] as const,
      registers: [registry],
      async collect() {
        try {
          const all = await redis.hgetall(keys.scalingRecommendations);
          for (const [queue, value] of Object.entries(all)) this.set({ queue }, Number(value));
        } catch {
          /* Redis away */
        }
      },
    }),
  };
}

function toObject(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < flat.length - 1; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}

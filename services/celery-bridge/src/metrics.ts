import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type BridgeMetrics = ReturnType<typeof createBridgeMetrics>;

/**
 * `inc` of one label's child, looked up once: `counter.inc({label})` hashes the labels on every
 * call, and these run for every event. For labels with few values (event types and names).
 */
export function perLabel<L extends string>(counter: Counter<L>, label: L): (value: string) => void {
  const children = new Map<string, { inc(): void }>();
  return (value) => {
    let child = children.get(value);
    if (!child) {
      child = counter.labels({ [label]: value } as Record<L, string>);
      children.set(value, child);
    }
    child.inc();
  };
}

/**
 * What the bridge read, posted and dropped, how far behind it is, and — Celery's events being
 * fire-and-forget — what it can tell it did not see (README, "What it guarantees").
 */
export function createBridgeMetrics(registry: Registry, state: { connected(): boolean; disconnectedMs(): number; held(): number; tracked(): number }) {
  const registers = [registry];
  return {
    messages: new Counter({ name: 'celery_bridge_messages_total', help: 'Messages read from the broker event channels', registers }),
    eventsRead: new Counter({ name: 'celery_bridge_events_read_total', help: 'Celery events read (a task.multi message holds several), by Celery type', labelNames: ['type'] as const, registers }),
    ignored: new Counter({ name: 'celery_bridge_events_ignored_total', help: 'Celery events of a type the bridge does not map (task-rejected, custom events), by type', labelNames: ['type'] as const, registers }),
    posted: new Counter({ name: 'celery_bridge_events_posted_total', help: 'SSOT events the api accepted, by event name', labelNames: ['name'] as const, registers }),
    dropped: new Counter({
      name: 'celery_bridge_events_dropped_total',
      help: 'Messages or events set aside, by reason: unreadable (not_json, not_an_envelope, unsupported_content_type, bad_body_encoding, bad_body, bad_event), refused by the api (refused), not delivered after retries (unposted), or the publisher queue full (queue_full)',
      labelNames: ['reason'] as const,
      registers,
    }),
    lag: new Histogram({
      name: 'celery_bridge_lag_seconds',
      help: "From the Celery event's timestamp to the api accepting the SSOT event made of it",
      buckets: [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    connected: new Gauge({
      name: 'celery_bridge_broker_connected',
      help: '1 while subscribed to the broker event channels',
      registers,
      collect() {
        this.set(state.connected() ? 1 : 0);
      },
    }),
    disconnects: new Counter({ name: 'celery_bridge_broker_disconnects_total', help: 'Times the event subscription was lost (every event published meanwhile was missed)', registers }),
    disconnectedSeconds: new Gauge({
      name: 'celery_bridge_broker_disconnected_seconds_total',
      help: 'Time spent not subscribed since start, the current outage included: events published then were not seen',
      registers,
      collect() {
        this.set(state.disconnectedMs() / 1000);
      },
    }),
    joinedLate: new Counter({
      name: 'celery_bridge_tasks_joined_late_total',
      help: 'Tasks first seen after their creation (their task-sent and task-received were missed): their job may be new to the SSOT with type "unknown"',
      registers,
    }),
    clockSkipped: new Counter({
      name: 'celery_bridge_clock_skipped_total',
      help: "Ticks missing between consecutive events of one sender's Lamport clock: an upper bound of events missed, since workers also tick on messages they receive (about one per heartbeat at rest)",
      registers,
    }),
    heartbeatsMissed: new Counter({ name: 'celery_bridge_heartbeats_missed_total', help: 'Worker heartbeats not seen between two that were (by the worker\'s freq)', registers }),
    clockAhead: new Counter({ name: 'celery_bridge_clock_ahead_total', help: 'Events dated over 60 s ahead of this process; they were given the time they were read', registers }),
    held: new Gauge({
      name: 'celery_bridge_tasks_held',
      help: "Tasks whose events wait for their task-sent (their queue)",
      registers,
      collect() {
        this.set(state.held());
      },
    }),
    tracked: new Gauge({
      name: 'celery_bridge_tasks_tracked',
      help: 'Tasks remembered (name, queue, run) for the events that do not repeat them',
      registers,
      collect() {
        this.set(state.tracked());
      },
    }),
    queueDepth: new Gauge({ name: 'celery_bridge_queue_depth', help: 'Messages waiting in each broker queue (LLEN over its priority lists)', labelNames: ['queue'] as const, registers }),
    commands: new Counter({ name: 'celery_bridge_commands_total', help: 'Commands carried out, by action and outcome (ok, failed)', labelNames: ['action', 'outcome'] as const, registers }),
    inspections: new Counter({ name: 'celery_bridge_inspections_total', help: 'Workers asked for their queues and concurrency, by outcome (answered, silent, error)', labelNames: ['outcome'] as const, registers }),
  };
}

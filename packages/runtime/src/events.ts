import { randomUUID } from 'node:crypto';
import type { AgentEvent, EventName, EventPayload, RedisKeys } from '@agentos/contracts';
import type { Redis } from 'ioredis';

/**
 * Default of `EVENT_STREAM_MAXLEN`: how long the event stream gets before its oldest entries are
 * trimmed (approximately). Trimming drops entries whether or not the dispatchers have read them,
 * so this must stay far above what they can fall behind by: at 5,000 events/s it is over three
 * minutes of backlog. Every writer of the stream trims to the configured value.
 */
export const EVENT_STREAM_MAXLEN = 1_000_000;

/** The `source` of the events the system raises itself. */
export const SYSTEM_EVENT_SOURCE = 'ssot';

/** An event raised inside the system (heartbeat sweeper, threshold check, health check). */
export function newEvent<N extends EventName>(name: N, payload: EventPayload<N>): AgentEvent {
  return { id: randomUUID(), name, payload, occurred_at: new Date().toISOString(), source: SYSTEM_EVENT_SOURCE } as AgentEvent;
}

/**
 * Appends events to the event stream, as the api's ingest does: one field `event`, the JSON;
 * trimmed to about `maxLen` entries (`EVENT_STREAM_MAXLEN`).
 */
export async function appendEvents(redis: Redis, keys: RedisKeys, events: readonly AgentEvent[], maxLen: number): Promise<void> {
  if (events.length === 0) return;
  const pipeline = redis.pipeline();
  for (const event of events) pipeline.xadd(keys.events, 'MAXLEN', '~', maxLen, '*', 'event', JSON.stringify(event));
  const results = (await pipeline.exec()) ?? [];
  const failed = results.find(([error]) => error);
  if (failed) throw failed[0];
}

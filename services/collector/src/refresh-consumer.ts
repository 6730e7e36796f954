import { COLLECTOR_GROUP, refreshRequest, type RedisKeys, type SectionName } from '@agentos/contracts';
import { compareStreamIds, entryField, type Logger, type Redis, startStreamConsumer, type StreamEntry } from '@agentos/runtime';
import type { Collector } from './collector';
import type { CollectorMetrics } from './metrics';

/**
 * Reads refresh requests as one consumer of the collectors' group. Every batch read (all the
 * requests waiting, however many) becomes ONE build of the union of their sections: bursts
 * coalesce by themselves while a build runs. Requests a dead collector left pending are claimed
 * after 5 s.
 */
export function startRefreshConsumer(
  deps: { blocking: Redis; redis: Redis; keys: RedisKeys; collector: Collector; logger: Logger; metrics: CollectorMetrics },
  options: { consumer: string; batch?: number },
) {
  const handle = async (entries: StreamEntry[]): Promise<string[]> => {
    const requestIds: string[] = [];
    const sections = new Set<SectionName>();
    let all = false;
    let eventsUpto: string | undefined;
    for (const [id, fields] of entries) {
      const parsed = refreshRequest.safeParse(safeJson(entryField(fields, 'request')));
      if (!parsed.success) {
        // Bad data on the stream is counted and dropped (acknowledged); the loop goes on.
        deps.metrics.requests.inc({ outcome: 'malformed' });
        deps.logger.warn({ id }, 'malformed refresh request dropped');
        continue;
      }
      deps.metrics.requests.inc({ outcome: 'ok' });
      requestIds.push(parsed.data.id);
      if (parsed.data.sections.length === 0) all = true;
      const upto = parsed.data.events_upto;
      if (upto && (!eventsUpto || compareStreamIds(upto, eventsUpto) > 0)) eventsUpto = upto;
      for (const name of parsed.data.sections) sections.add(name);
    }
    if (requestIds.length > 0) await deps.collector.refresh(all ? [] : [...sections], requestIds, eventsUpto);
    return entries.map(([id]) => id);
  };
  return startStreamConsumer({
    stream: deps.keys.refreshRequests,
    group: COLLECTOR_GROUP,
    consumer: options.consumer,
    blocking: deps.blocking,
    redis: deps.redis,
    logger: deps.logger,
    batch: options.batch,
    handle,
  });
}

function safeJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

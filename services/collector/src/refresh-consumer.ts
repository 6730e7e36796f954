import { COLLECTOR_GROUP, refreshRequest, type RedisKeys, type SectionName } from '@agentos/contracts';
import { compareStreamIds, entryField, type Logger, type LoopWatch, Pacer, type Redis, requestRefresh, startStreamConsumer, type StreamEntry } from '@agentos/runtime';
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
  options: { consumer: string; batch?: number; minIntervalMs?: number; watch?: LoopWatch },
) {
  const pacer = new Pacer(options.minIntervalMs ?? 0);
  // With several dispatchers, a batch's request can arrive while another replica still holds
  // lower events pending: the build cannot claim the batch's events, and if no request followed,
  // no version would say it covers them until the next warm. So the collector asks itself again,
  // shortly and then less often, until a build covers what was asked.
  let followUp: NodeJS.Timeout | undefined;
  let followUpDelayMs = FOLLOW_UP_FIRST_MS;
  let stopped = false;
  const followUpIfShort = (sections: SectionName[], wanted: string | undefined, covered: string | undefined) => {
    if (!wanted || (covered && compareStreamIds(covered, wanted) >= 0)) {
      followUpDelayMs = FOLLOW_UP_FIRST_MS;
      return;
    }
    if (followUp || stopped) return;
    followUp = setTimeout(() => {
      followUp = undefined;
      requestRefresh(deps.redis, deps.keys, sections, 'follow-up: events still pending in a dispatcher', { eventsUpto: wanted }).catch((error: unknown) =>
        deps.logger.warn({ err: (error as Error).message }, 'follow-up refresh request failed'),
      );
    }, followUpDelayMs);
    followUpDelayMs = Math.min(followUpDelayMs * 2, FOLLOW_UP_MAX_MS);
  };

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
    if (requestIds.length > 0) {
      const names = all ? [] : [...sections];
      pacer.take();
      // The version claims what the dispatchers had committed when the build started (read in
      // its first round trip), or failing that what the requests name.
      const written = await deps.collector.refresh(names, requestIds, eventsUpto, { claimDispatched: true });
      followUpIfShort(names, eventsUpto, written.eventsUpto);
      // Pacing (REFRESH_MIN_INTERVAL_MS, a token bucket: runtime's pacer.ts): the requests that arrive meanwhile wait
      // on the stream and are all answered by the next build.
      const rest = pacer.restMs();
      if (rest > 0 && !stopped) await new Promise((resolve) => setTimeout(resolve, rest));
    }
    return entries.map(([id]) => id);
  };
  const consumer = startStreamConsumer({
    stream: deps.keys.refreshRequests,
    group: COLLECTOR_GROUP,
    consumer: options.consumer,
    blocking: deps.blocking,
    redis: deps.redis,
    logger: deps.logger,
    batch: options.batch,
    handle,
    watch: options.watch,
  });
  return {
    async stop() {
      stopped = true;
      await consumer.stop();
      clearTimeout(followUp);
    },
  };
}

/** First and longest wait before a collector asks again for events it could not yet claim. */
const FOLLOW_UP_FIRST_MS = 20;
const FOLLOW_UP_MAX_MS = 1000;

function safeJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

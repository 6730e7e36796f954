import { COLLECTOR_GROUP, refreshRequest, type RedisKeys, type SectionName } from '@agentos/contracts';
import { type Logger, type Redis, TimeoutError, withTimeout } from '@agentos/runtime';
import type { Collector } from './collector';
import type { CollectorMetrics } from './metrics';

export interface RefreshConsumerOptions {
  /** Unique per process: the consumer name in the group. */
  consumer: string;
  /** BLOCK of each read, ms; short so shutdown and the watchdog act quickly. @default 1000 */
  blockMs?: number;
  /** Requests idle this long in a dead consumer's pending list are taken over. @default 5000 */
  claimIdleMs?: number;
  /** Most requests coalesced into one build. @default 200 */
  batch?: number;
}

type StreamEntry = [id: string, fields: string[]];

/**
 * Reads refresh requests from the stream as one consumer of the collectors' group. Every batch
 * read (all the requests waiting, however many) becomes ONE build of the union of their
 * sections: bursts coalesce by themselves while a build runs.
 */
export function startRefreshConsumer(
  deps: { blocking: Redis; redis: Redis; keys: RedisKeys; collector: Collector; logger: Logger; metrics: CollectorMetrics },
  options: RefreshConsumerOptions,
) {
  const blockMs = options.blockMs ?? 1000;
  const claimIdleMs = options.claimIdleMs ?? 5000;
  const batch = options.batch ?? 200;
  const stream = deps.keys.refreshRequests;
  let running = true;
  let lastClaim = 0;
  let failures = 0;

  const ensureGroup = async () => {
    try {
      // From 0, not $: requests made before the first collector ever started still get answered.
      await deps.redis.xgroup('CREATE', stream, COLLECTOR_GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
  };

  const read = async (): Promise<StreamEntry[]> => {
    const entries: StreamEntry[] = [];
    if (Date.now() - lastClaim >= claimIdleMs) {
      lastClaim = Date.now();
      const claimed = (await deps.redis.xautoclaim(stream, COLLECTOR_GROUP, options.consumer, claimIdleMs, '0-0', 'COUNT', batch)) as [
        string,
        StreamEntry[],
      ];
      entries.push(...(claimed[1] ?? []).filter((entry) => entry && entry[1]));
    }
    // The watchdog: a blocking read that outlives its BLOCK by far is stuck on a dead socket
    // (ioredis re-sends blocking commands after a reconnect); drop the connection and go on.
    const reply = (await withTimeout(
      deps.blocking.xreadgroup('GROUP', COLLECTOR_GROUP, options.consumer, 'COUNT', batch, 'BLOCK', blockMs, 'STREAMS', stream, '>'),
      blockMs + 5000,
      'XREADGROUP',
    ).catch((error: Error) => {
      if (error instanceof TimeoutError) deps.blocking.disconnect(true);
      throw error;
    })) as [string, StreamEntry[]][] | null;
    if (reply) for (const [, list] of reply) entries.push(...list);
    return entries;
  };

  const handle = async (entries: StreamEntry[]) => {
    const ids: string[] = [];
    const requestIds: string[] = [];
    const sections = new Set<SectionName>();
    let all = false;
    for (const [id, fields] of entries) {
      ids.push(id);
      const parsed = refreshRequest.safeParse(safeJson(fields[fields.indexOf('request') + 1]));
      if (!parsed.success) {
        // Bad data on the stream is counted and dropped; the loop goes on.
        deps.metrics.requests.inc({ outcome: 'malformed' });
        deps.logger.warn({ id }, 'malformed refresh request dropped');
        continue;
      }
      deps.metrics.requests.inc({ outcome: 'ok' });
      requestIds.push(parsed.data.id);
      if (parsed.data.sections.length === 0) all = true;
      for (const name of parsed.data.sections) sections.add(name);
    }
    if (requestIds.length > 0) await deps.collector.refresh(all ? [] : [...sections], requestIds);
    await deps.redis.xack(stream, COLLECTOR_GROUP, ...ids);
  };

  const loop = (async () => {
    while (running) {
      try {
        await ensureGroup();
        while (running) {
          const entries = await read();
          if (entries.length > 0) await handle(entries);
          failures = 0;
        }
      } catch (error) {
        if (!running) break;
        failures += 1;
        const delay = Math.min(100 * 2 ** failures, 5000);
        deps.logger.error({ err: (error as Error).message, retryInMs: delay }, 'refresh consumer error');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  })();

  return {
    async stop() {
      running = false;
      // The read in flight returns within its BLOCK; past that, stop waiting for it.
      await withTimeout(loop, blockMs + 500, 'refresh consumer stop').catch(() => {});
    },
  };
}

function safeJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { TimeoutError } from './errors';
import { Pacer } from './pacer';
import { waitForRedis } from './redis';
import { withTimeout } from './timeout';
import type { LoopWatch } from './watchdog';

/** One stream entry as Redis returns it: id and flat field/value list. */
export type StreamEntry = [id: string, fields: string[]];

export interface StreamConsumerOptions {
  stream: string;
  group: string;
  /** Unique per process: this consumer's name in the group. */
  consumer: string;
  /** Connection of its own for the blocking read (never shared: it is held for up to `blockMs`). */
  blocking: Redis;
  /** Command connection: group creation, claims, acks. */
  redis: Redis;
  logger: Logger;
  /**
   * Handles the entries read in one go and resolves with the ids to acknowledge. Ids not
   * returned stay pending and come back through the claim after `claimIdleMs`. May throw: then
   * nothing is acknowledged, and the loop backs off and goes on. `read.claimed`: the entries were
   * claimed (delivered before, to this consumer or another); otherwise they are new, never
   * delivered to anyone.
   */
  handle(entries: StreamEntry[], read: { claimed: boolean }): Promise<readonly string[]>;
  /** Most entries per read. @default 200 */
  batch?: number;
  /** BLOCK of each read, ms; short so shutdown and the watchdog act quickly. @default 1000 */
  blockMs?: number;
  /**
   * Entries pending this long (a dead consumer's, or ones this consumer failed) are claimed and
   * handed to `handle` again. @default 5000
   */
  claimIdleMs?: number;
  /** How often to look for such entries. @default claimIdleMs / 2 */
  claimEveryMs?: number;
  /** Told of every round that read (and handled) what there was: the loop's liveness. */
  watch?: LoopWatch;
  /**
   * Paces the rounds that found less than a full batch to one per this long on average (a
   * `Pacer`: a token bucket with a burst of two), so the entries that arrive meanwhile are read
   * together by the next one. Idle, the next entry is read at once; with a backlog, full batches
   * follow each other at once. Trades up to this much latency for fewer, larger rounds — each
   * round's fixed cost (round trips, a transaction) is what dominates at moderate rates. @default 0
   */
  minIntervalMs?: number;
  /**
   * With `minIntervalMs`: told of new entries the moment they are read, before `handle` gets
   * them. Then the loop does not sleep out the interval: it reads what arrives during it (a
   * blocking read for the time left), tells `onRead`, and hands everything it gathered to
   * `handle` together when the interval is over — so what must not wait for the pacing (the
   * dispatchers' socket messages) goes at once while the costly round (the persist) is paced.
   * It must not throw; it sees entries that `handle` may later see again (a claim after a crash).
   */
  onRead?(entries: StreamEntry[]): void;
}

/**
 * The read loop of a consumer group member, shared by the collectors and the dispatchers:
 * XAUTOCLAIM what others left pending, XREADGROUP what is new, hand both to `handle`, XACK what
 * it says. Errors never escape the loop: they are logged and retried with backoff.
 *
 * The blocking read has a watchdog: ioredis re-sends a blocking command after a reconnect and
 * can hang on a half-dead socket (ioredis#1285, #1630; BullMQ PR #4484), so a read that outlives
 * its BLOCK by far drops the connection and goes on.
 */
export function startStreamConsumer(options: StreamConsumerOptions): { stop(): Promise<void> } {
  const batch = options.batch ?? 200;
  const blockMs = options.blockMs ?? 1000;
  const claimIdleMs = options.claimIdleMs ?? 5000;
  const claimEveryMs = options.claimEveryMs ?? Math.max(100, Math.floor(claimIdleMs / 2));
  const minIntervalMs = options.minIntervalMs ?? 0;
  const { redis, blocking, stream, group, consumer, logger } = options;
  let running = true;
  let lastClaim = 0;
  let failures = 0;
  /** Spent by each round of new entries that was not a full batch; a full one never waits. */
  const pacer = new Pacer(minIntervalMs);
  let lastFull = false;
  const restMs = () => (lastFull ? 0 : pacer.restMs());
  let wakeUp: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const ensureGroup = async () => {
    try {
      // From 0, not $: entries added before the first consumer ever started are still handled.
      await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
  };

  const claim = async (): Promise<StreamEntry[]> => {
    if (Date.now() - lastClaim < claimEveryMs) return [];
    lastClaim = Date.now();
    const [, entries] = (await redis.xautoclaim(stream, group, consumer, claimIdleMs, '0-0', 'COUNT', batch)) as [string, StreamEntry[]];
    // Entries deleted from the stream while pending come back as null fields.
    return (entries ?? []).filter((entry) => entry && Array.isArray(entry[1]));
  };

  const readNew = async (count = batch, block = blockMs): Promise<StreamEntry[]> => {
    // The blocking connection has no offline queue: a read sent before it is ready fails with
    // "Stream isn't writeable". Wait for it instead (at startup and after a reconnect).
    if (blocking.status !== 'ready') await waitForRedis(blocking, blockMs + 5000);
    const reply = (await withTimeout(
      blocking.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'BLOCK', block, 'STREAMS', stream, '>'),
      block + 5000,
      'XREADGROUP',
    ).catch((error: unknown) => {
      if (error instanceof TimeoutError) blocking.disconnect(true);
      throw error;
    })) as [string, StreamEntry[]][] | null;
    return reply ? reply.flatMap(([, entries]) => entries) : [];
  };

  /**
   * The rest of the pacing interval: slept out, or — with `onRead` — spent reading what arrives,
   * up to a full batch, each read told to `onRead` at once. Resolves with what was gathered.
   */
  const waitOutInterval = async (): Promise<StreamEntry[]> => {
    const gathered: StreamEntry[] = [];
    for (let rest = restMs(); running && rest > 0; rest = restMs()) {
      if (!options.onRead) {
        await pause(rest);
        break;
      }
      const read = await readNew(batch - gathered.length, Math.min(rest, blockMs));
      if (read.length === 0) continue;
      options.onRead(read);
      gathered.push(...read);
      if (gathered.length >= batch) break;
    }
    return gathered;
  };

  const handleAndAck = async (entries: StreamEntry[], claimed: boolean): Promise<void> => {
    const ack = await options.handle(entries, { claimed });
    if (ack.length > 0) await redis.xack(stream, group, ...ack);
  };

  const loop = (async () => {
    while (running) {
      try {
        await ensureGroup();
        while (running) {
          // Entries read and not handled when a round fails stay pending: the claim brings them back.
          // Stopped meanwhile: what was gathered is still handled (else it would wait for a claim).
          const gathered = await waitOutInterval();
          const claimed = running ? await claim() : [];
          if (claimed.length > 0) await handleAndAck(claimed, true);
          // A round that claimed reads nothing new: the claimed entries had their turn.
          const entries = gathered.length > 0 ? gathered : claimed.length > 0 || !running ? [] : await readNew();
          if (entries.length > 0) {
            lastFull = entries.length >= batch;
            if (!lastFull) pacer.take();
            await handleAndAck(entries, false);
          }
          failures = 0;
          options.watch?.progress();
        }
      } catch (error) {
        if (!running) break;
        failures += 1;
        const delay = Math.min(100 * 2 ** failures, 5000);
        logger.error({ err: (error as Error).message, stream, retryInMs: delay }, 'stream consumer error');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  })();

  return {
    async stop() {
      running = false;
      wakeUp?.();
      options.watch?.stop();
      // The read in flight returns within its BLOCK; past that, stop waiting for it.
      await withTimeout(loop, blockMs + 500, 'stream consumer stop').catch(() => {});
    },
  };
}

/** The value of `name` in a stream entry's flat field list. */
export function entryField(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i < fields.length - 1; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

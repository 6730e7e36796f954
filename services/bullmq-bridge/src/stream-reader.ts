import type { EventPublisher } from '@agentos/client';
import { IngestError } from '@agentos/client';
import { Lease, type Logger, type LoopWatch, type Redis, TimeoutError, waitForRedis, withTimeout } from '@agentos/runtime';
import type { QueueSet } from './discovery';
import { compareEntryIds, entryTime, streamEventId } from './ids';
import { type BridgeKeys, bullKeys } from './keys';
import { type FactsNeeded, type JobFacts, type JobState, type MapOptions, mapEntry, type SsotJobEvent, type StreamEntry, factsNeeded } from './mapping';
import type { BridgeMetrics } from './metrics';
import type { PositionStore } from './positions';

export interface StreamReaderOptions {
  /** BullMQ's Redis, for the job hashes and XINFO. */
  bull: Redis;
  /** A connection of its own to BullMQ's Redis for the blocking XREAD. */
  blocking: Redis;
  /** The SSOT's Redis: leases. */
  redis: Redis;
  store: PositionStore;
  keys: BridgeKeys;
  prefix: string;
  queues: QueueSet;
  publisher: EventPublisher;
  logger: Logger;
  metrics: BridgeMetrics;
  /** Unique per process: the leases' owner. */
  instance: string;
  userIdField: readonly string[];
  agentField: readonly string[];
  start: 'earliest' | 'latest';
  readCount: number;
  blockMs: number;
  leaseMs: number;
  /** How often lag and trimming are checked per queue, ms. */
  inspectMs: number;
  /** Told of every round that did its job (read, and the api took what it read). */
  watch: LoopWatch;
  /** Most job states kept in memory (all queues); the rest are read back from Redis when needed. @default 200000 */
  cacheSize?: number;
}

/** A queue this replica reads: its lease, and how far the api has its events. */
interface Reading {
  queue: string;
  lease: Lease;
  /** The saved position: every entry up to it is in the SSOT. */
  cursor: string;
  /** What `max-deleted-entry-id` was when a gap was last counted, so one trim counts once. */
  gapAt: string;
  /** Where the scan that forgets jobs BullMQ dropped has got to. */
  sweepCursor: string;
}

/** The api did not take a round's events (network, 5xx, 429 past the publisher's retries). */
class PostFailedError extends Error {
  override readonly name = 'PostFailedError';
}

const SWEEP_EVERY_MS = 60_000;
const SWEEP_COUNT = 500;
const RUN_FIELDS = ['pb', 'processedOn', 'finishedOn'] as const;
const ALL_FIELDS = ['name', 'data', 'atm', ...RUN_FIELDS] as const;

/**
 * Carries each queue's BullMQ event stream into the SSOT. It reads `{prefix}:{queue}:events`
 * itself with XREAD rather than through BullMQ's `QueueEvents`: that is what lets it say exactly
 * which entry the SSOT has up to (`QueueEvents` moves its own position on as it emits, whether or
 * not anything downstream took the event), read every queue in one blocking call on one
 * connection (`QueueEvents` holds one per queue), and take entries in batches.
 *
 * One round: read the next entries of every queue this replica holds the lease of; map them
 * (mapping.ts) with the jobs' states and what their hashes say now; post the events; once the
 * api accepted all of them (202), save each queue's position with the states in one atomic step
 * (positions.ts). A crash anywhere before that save loses nothing: the next reader starts from
 * the saved position with the saved states, recomputes the same events with the same ids, and
 * the api keeps one copy of each. So a restart loses nothing BullMQ's stream still holds; what
 * BullMQ trimmed before the bridge read it is lost, and counted (`ssot_bullmq_stream_gaps_total`).
 */
export function startStreamReader(options: StreamReaderOptions) {
  const { bull, blocking, redis, store, keys, prefix, queues, publisher, logger, metrics } = options;
  const reading = new Map<string, Reading>();
  const cache = new StateCache(options.cacheSize ?? 200_000);
  const leaseEveryMs = Math.floor(options.leaseMs / 3);
  let lastLeaseRound = 0;
  let lastInspect = 0;
  let lastSweep = Date.now();
  let running = true;
  let wake: (() => void) | null = null;

  /** Renews the leases held and tries for the others; a queue whose lease is lost is dropped. */
  async function leases(): Promise<void> {
    if (Date.now() - lastLeaseRound < leaseEveryMs) return;
    lastLeaseRound = Date.now();
    await Promise.all(
      queues.list().map(async (queue) => {
        const held = reading.get(queue);
        const lease = held?.lease ?? new Lease(redis, keys.readerLease(queue), options.instance, options.leaseMs);
        const mine = await lease.acquire();
        if (held && !mine) {
          drop(queue, 'its lease went to another replica');
        } else if (!held && mine) {
          const cursor = await startingPosition(queue);
          reading.set(queue, { queue, lease, cursor, gapAt: '0-0', sweepCursor: '0' });
          logger.info({ queue, from: cursor }, 'reading queue');
        }
      }),
    );
    metrics.queuesRead.set(reading.size);
    metrics.queuesKnown.set(queues.size);
  }

  function drop(queue: string, why: string): void {
    reading.delete(queue);
    cache.dropQueue(queue);
    logger.warn({ queue }, `queue no longer read here: ${why}`);
  }

  async function startingPosition(queue: string): Promise<string> {
    const saved = await store.position(queue);
    if (saved) return saved;
    if (options.start === 'earliest') return '0';
    const info = await streamInfo(queue);
    const head = info?.lastGenerated ?? '0';
    // Saved at once: a restart before the first event must not move "latest" on past events.
    if (head !== '0') await store.save(queue, head, new Map());
    return head;
  }

  async function streamInfo(queue: string): Promise<{ lastGenerated: string; maxDeleted: string } | null> {
    try {
      const flat = (await bull.call('XINFO', 'STREAM', bullKeys(prefix, queue).events)) as unknown[];
      const info: Record<string, unknown> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) info[String(flat[i])] = flat[i + 1];
      return { lastGenerated: String(info['last-generated-id'] ?? '0-0'), maxDeleted: String(info['max-deleted-entry-id'] ?? '0-0') };
    } catch (error) {
      if (String((error as Error).message).includes('no such key')) return null;
      throw error;
    }
  }

  /** Lag per queue, and whether BullMQ trimmed entries the bridge had not read (a gap). */
  async function inspect(): Promise<void> {
    if (Date.now() - lastInspect < options.inspectMs) return;
    lastInspect = Date.now();
    const list = [...reading.values()];
    const infos = await Promise.all(list.map((r) => streamInfo(r.queue)));
    list.forEach((r, i) => {
      const info = infos[i];
      if (!info) {
        metrics.lag.set({ queue: r.queue }, 0);
        return;
      }
      const behind = compareEntryIds(info.lastGenerated, r.cursor) > 0;
      metrics.lag.set({ queue: r.queue }, behind && r.cursor !== '0' ? (entryTime(info.lastGenerated) - entryTime(r.cursor)) / 1000 : 0);
      // Entries after the cursor were deleted before we read them. From '0' (a first start),
      // what was trimmed is history from before the bridge, not a gap.
      if (r.cursor !== '0' && compareEntryIds(info.maxDeleted, r.cursor) > 0 && compareEntryIds(info.maxDeleted, r.gapAt) > 0) {
        r.gapAt = info.maxDeleted;
        metrics.gaps.inc({ queue: r.queue });
        logger.error(
          { queue: r.queue, position: r.cursor, trimmedUpTo: info.maxDeleted },
          'BullMQ trimmed event stream entries before the bridge read them: those events are lost (raise streams.events.maxLen)',
        );
      }
    });
  }

  /** One XREAD over every queue read here; entries by queue. */
  async function read(list: Reading[]): Promise<Map<Reading, StreamEntry[]>> {
    if (blocking.status !== 'ready') await waitForRedis(blocking, options.blockMs + 5000);
    const streams = list.map((r) => bullKeys(prefix, r.queue).events);
    const reply = (await withTimeout(
      blocking.xread('COUNT', options.readCount, 'BLOCK', options.blockMs, 'STREAMS', ...streams, ...list.map((r) => r.cursor)),
      options.blockMs + 5000,
      'XREAD',
    ).catch((error: unknown) => {
      // A read unanswered far past its BLOCK: the connection is dead without knowing it.
      if (error instanceof TimeoutError) blocking.disconnect(true);
      throw error;
    })) as [string, [string, string[]][]][] | null;
    const byQueue = new Map<Reading, StreamEntry[]>();
    for (const [stream, entries] of reply ?? []) {
      const r = list[streams.indexOf(stream)];
      if (!r) continue;
      byQueue.set(
        r,
        entries.map(([id, flat]) => {
          const fields: Record<string, string> = {};
          for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
          return { id, fields };
        }),
      );
    }
    return byQueue;
  }

  /** The states of the jobs the entries are about that are not in memory, from Redis. */
  async function loadStates(batch: Map<Reading, StreamEntry[]>): Promise<void> {
    await Promise.all(
      [...batch].map(async ([r, entries]) => {
        const missing = [...new Set(entries.map((e) => e.fields.jobId).filter((id): id is string => id !== undefined && !cache.has(r.queue, id)))];
        const states = await store.states(r.queue, missing);
        missing.forEach((id, i) => cache.set(r.queue, id, states[i] ?? null));
      }),
    );
  }

  /**
   * What each job's hash says now, for the entries that need it: one HMGET per job, pipelined.
   * A job's first entry in the batch decides how much: later entries find it known.
   */
  async function loadFacts(batch: Map<Reading, StreamEntry[]>): Promise<Map<string, JobFacts | null>> {
    const wanted = new Map<string, { key: string; need: Exclude<FactsNeeded, 'none'> }>();
    for (const [r, entries] of batch) {
      const known = new Set<string>();
      for (const entry of entries) {
        const jobId = entry.fields.jobId;
        if (jobId === undefined) continue;
        const need = factsNeeded(entry, known.has(jobId) || cache.get(r.queue, jobId) != null);
        const id = `${r.queue}\u0000${jobId}`;
        if (need !== 'none' && wanted.get(id)?.need !== 'all') wanted.set(id, { key: bullKeys(prefix, r.queue).job(jobId), need });
        if (entry.fields.event === 'removed') known.delete(jobId);
        else known.add(jobId);
      }
    }
    const facts = new Map<string, JobFacts | null>();
    if (wanted.size === 0) return facts;
    const pipeline = bull.pipeline();
    const order = [...wanted];
    for (const [, { key, need }] of order) pipeline.hmget(key, ...(need === 'all' ? ALL_FIELDS : RUN_FIELDS));
    const results = (await pipeline.exec()) ?? [];
    order.forEach(([id, { need }], i) => {
      const [error, values] = results[i] ?? [new Error('no reply')];
      if (error) throw error;
      const v = values as (string | null)[];
      const fields = need === 'all' ? ALL_FIELDS : RUN_FIELDS;
      const get = (name: (typeof ALL_FIELDS)[number]) => v[fields.indexOf(name as never)] ?? undefined;
      // Every job hash has `name` … but the run fields may all be unset; HMGET cannot tell
      // "no such key" apart, so an 'all' read without a name means the job is gone.
      if (need === 'all' && get('name') === undefined && get('data') === undefined) {
        facts.set(id, null);
        return;
      }
      facts.set(id, {
        ...(get('name') === undefined ? {} : { name: get('name') }),
        ...(get('data') === undefined ? {} : { data: get('data') }),
        ...numberField('attemptsMade', get('atm')),
        ...(get('pb') === undefined ? {} : { processedBy: get('pb') }),
        ...numberField('processedOn', get('processedOn')),
        ...numberField('finishedOn', get('finishedOn')),
      });
    });
    return facts;
  }

  async function round(): Promise<void> {
    await leases();
    await inspect();
    await sweep();
    const list = [...reading.values()];
    if (list.length === 0) {
      await idle(options.blockMs);
      options.watch.progress();
      return;
    }
    const batch = await read(list);
    // Alive is "reads BullMQ": an api that is away is not cured by restarting the bridge.
    options.watch.progress();
    if (batch.size === 0) return;
    await loadStates(batch);
    const facts = await loadFacts(batch);

    // Map in stream order per queue; states change in a scratch copy until the save.
    const events: { event: SsotJobEvent; id: string; at: number }[] = [];
    const changes = new Map<Reading, Map<string, JobState | null>>();
    let ignored = 0;
    for (const [r, entries] of batch) {
      const scratch = new Map<string, JobState | null>();
      const mapOptions: MapOptions = { queue: r.queue, userIdField: options.userIdField, agentField: options.agentField };
      for (const entry of entries) {
        const jobId = entry.fields.jobId;
        const before = jobId === undefined ? undefined : scratch.has(jobId) ? scratch.get(jobId) : cache.get(r.queue, jobId);
        const mapped = mapEntry(entry, before ?? undefined, jobId === undefined ? null : (facts.get(`${r.queue}\u0000${jobId}`) ?? null), mapOptions);
        if (jobId !== undefined && mapped.state !== undefined) scratch.set(jobId, mapped.state);
        if (mapped.event) events.push({ event: mapped.event, id: streamEventId(r.queue, entry.id), at: entryTime(entry.id) });
        else if (mapped.dropped) metrics.dropped.inc({ reason: mapped.dropped });
        else ignored += 1;
      }
      changes.set(r, scratch);
      metrics.read.inc({ queue: r.queue }, entries.length);
    }
    metrics.ignored.inc(ignored);

    await post(events);

    await Promise.all(
      [...batch].map(async ([r, entries]) => {
        const last = entries[entries.length - 1]!.id;
        const scratch = changes.get(r)!;
        if (!(await store.save(r.queue, last, scratch))) {
          drop(r.queue, 'another replica saved a position past this one');
          return;
        }
        r.cursor = last;
        for (const [jobId, state] of scratch) cache.set(r.queue, jobId, state);
      }),
    );
  }

  /** Posts the round's events and waits for the api's answer to each; throws unless all were taken or refused for good. */
  async function post(events: { event: SsotJobEvent; id: string; at: number }[]): Promise<void> {
    if (events.length === 0) return;
    const sent = events.map(({ event, id, at }) =>
      publisher.publish(event.name, event.payload as never, { id, occurredAt: new Date(at) }),
    );
    void publisher.flush();
    const results = await Promise.allSettled(sent);
    const now = Date.now();
    let failure: unknown = null;
    results.forEach((result, i) => {
      const { event, at } = events[i]!;
      if (result.status === 'fulfilled') {
        metrics.posted.inc({ name: event.name });
        metrics.age.observe((now - at) / 1000);
      } else if (result.reason instanceof IngestError && (result.reason.status === 400 || result.reason.status === 413)) {
        // Refused for good: posting it again would be refused again.
        metrics.dropped.inc({ reason: result.reason.status === 400 ? 'refused' : 'too_large' });
        logger.warn({ event: event.name, job: event.payload.job_id, err: result.reason.message }, 'event refused by the api; skipped');
      } else {
        failure ??= result.reason;
      }
    });
    if (failure) {
      metrics.postFailures.inc();
      throw new PostFailedError(`the api did not take the events: ${(failure as Error)?.message ?? String(failure)}`, { cause: failure });
    }
  }

  /**
   * Forgets, a slice at a time, the states of finished jobs that BullMQ no longer holds (removed
   * on completion, cleaned): the states kept stay as many as the jobs BullMQ keeps. Only finished
   * ones: a job still waiting or running has entries to come.
   */
  async function sweep(): Promise<void> {
    if (Date.now() - lastSweep < SWEEP_EVERY_MS) return;
    lastSweep = Date.now();
    for (const r of reading.values()) {
      const { cursor, states } = await store.scan(r.queue, r.sweepCursor, SWEEP_COUNT);
      r.sweepCursor = cursor;
      const finished = states.filter(([, state]) => state.phase === 'finished').map(([jobId]) => jobId);
      if (finished.length === 0) continue;
      const pipeline = bull.pipeline();
      for (const jobId of finished) pipeline.exists(bullKeys(prefix, r.queue).job(jobId));
      const exists = (await pipeline.exec()) ?? [];
      const gone = finished.filter((_, i) => exists[i]?.[0] === null && exists[i]?.[1] === 0);
      await store.forget(r.queue, gone);
      for (const jobId of gone) cache.delete(r.queue, jobId);
    }
  }

  function idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = null;
        resolve();
      }
      wake = done;
    });
  }

  const loop = (async () => {
    let failures = 0;
    while (running) {
      try {
        await round();
        failures = 0;
      } catch (error) {
        if (!running) break;
        failures += 1;
        logger.warn({ err: (error as Error).message, failures }, 'bullmq read round failed; reading again from the saved positions');
        await idle(Math.min(100 * 2 ** failures, 5000));
      }
    }
  })();

  return {
    /** The queues read here and their saved positions. */
    positions(): Record<string, string> {
      return Object.fromEntries([...reading.values()].map((r) => [r.queue, r.cursor]));
    },
    /** Tries for the leases of queues added since the last round at once. */
    nudge(): void {
      lastLeaseRound = 0;
      wake?.();
    },
    /** Finishes the round under way (its read returns within BLOCK), then releases the leases. */
    async stop(): Promise<void> {
      running = false;
      wake?.();
      await withTimeout(loop, options.blockMs + 10_000, 'stream reader stop').catch(() => {});
      options.watch.stop();
      await Promise.all([...reading.values()].map((r) => r.lease.release().catch(() => {})));
      reading.clear();
    },
    /** As a crash would: no more rounds, the leases left to lapse. */
    halt(): void {
      running = false;
      wake?.();
      options.watch.stop();
    },
  };
}

function numberField<K extends string>(name: K, text: string | undefined): { [P in K]?: number } {
  const value = text === undefined ? NaN : Number(text);
  return (Number.isFinite(value) ? { [name]: value } : {}) as { [P in K]?: number };
}

/**
 * Job states in memory, least recently used out first. Holds only states that are saved in Redis
 * (or known to be absent: null), so dropping any of them costs a read, never correctness.
 */
class StateCache {
  private readonly map = new Map<string, JobState | null>();

  constructor(private readonly max: number) {}

  has(queue: string, jobId: string): boolean {
    return this.map.has(`${queue}\u0000${jobId}`);
  }

  get(queue: string, jobId: string): JobState | null | undefined {
    const key = `${queue}\u0000${jobId}`;
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(queue: string, jobId: string, state: JobState | null): void {
    const key = `${queue}\u0000${jobId}`;
    this.map.delete(key);
    this.map.set(key, state);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }

  delete(queue: string, jobId: string): void {
    this.map.delete(`${queue}\u0000${jobId}`);
  }

  dropQueue(queue: string): void {
    const head = `${queue}\u0000`;
    for (const key of this.map.keys()) if (key.startsWith(head)) this.map.delete(key);
  }
}

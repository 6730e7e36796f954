import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BullmqBridgeKeys } from '@agentos/contracts';
import type { EventPublisher } from '@agentos/client';
import { IngestError } from '@agentos/client';
import { Lease, type Logger, type LoopWatch, type Redis, TimeoutError, waitForRedis, withTimeout } from '@agentos/runtime';
import type { QueueSet } from './discovery';
import { compareEntryIds, entryTime, streamEventId } from './ids';
import { bullKeys } from './keys';
import { factsNeeded, type JobFacts, type JobState, type MapOptions, mapEntry, type SsotJobEvent, type StreamEntry } from './mapping';
import type { BridgeMetrics } from './metrics';
import type { PositionStore, SavedPosition } from './positions';

export interface StreamReaderOptions {
  /** BullMQ's Redis, for the job hashes and XINFO. */
  bull: Redis;
  /** A connection of its own to BullMQ's Redis for the blocking XREAD. */
  blocking: Redis;
  /** The SSOT's Redis: leases. */
  redis: Redis;
  store: PositionStore;
  keys: BullmqBridgeKeys;
  prefix: string;
  queues: QueueSet;
  /**
   * Where the events go: one request in flight per publisher. A job's events always go through
   * the same one (by its id), so they reach the api in order; the SSOT needs no order across jobs.
   */
  publishers: readonly EventPublisher[];
  /** Events one request carries (`INGEST_BATCH`): a round that fits in one goes as one, unless it is catching up. */
  requestEvents: number;
  logger: Logger;
  metrics: BridgeMetrics;
  /** Unique per process: the leases' owner. */
  instance: string;
  userIdField: readonly string[];
  agentField: readonly string[];
  start: 'earliest' | 'latest';
  readCount: number;
  blockMs: number;
  /** Least time between two reads while entries keep coming, ms (see `BULLMQ_BATCH_MS`). */
  batchMs: number;
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
  /** Every entry up to here is in the SSOT (the api accepted its events); reads go on from it. */
  cursor: string;
  /**
   * How many entries the stream holds or held up to `cursor`, read or trimmed by BullMQ (null:
   * not known until the first read). BullMQ trims from the head; when the stream says more were
   * trimmed than this, entries after the cursor went before the bridge read them: lost.
   */
  n: number | null;
  /** The position saved in Redis: at or before `cursor`. */
  saved: string;
  savedAt: number;
  /** Job states changed by the entries between `saved` and `cursor` (null: forgotten). */
  unsaved: Map<string, JobState | null>;
  /** What `max-deleted-entry-id` was when a gap was last counted, so one trim counts once. */
  /** Where the scan that forgets jobs BullMQ dropped has got to. */
  sweepCursor: string;
}

/** One queue's part of a read: its entries, and its jobs' facts by BullMQ job id. */
interface Read {
  entries: StreamEntry[];
  facts: Map<string, JobFacts | null>;
  /** Entries BullMQ had trimmed from the stream's head when this was read. */
  trimmed: number;
}

/** The api did not take a round's events (network, 5xx, 429 past the publisher's retries). */
class PostFailedError extends Error {
  override readonly name = 'PostFailedError';
}

const SWEEP_EVERY_MS = 60_000;
/**
 * The position is saved at most this often (and whenever a queue goes quiet): a save per read
 * would be a round trip per read. A crash posts up to this much again, which the api's dedupe
 * makes harmless.
 */
const SAVE_EVERY_MS = 250;
/** …or once this many job states wait to be saved. */
const SAVE_AT_STATES = 5000;
const LOSS_LOG_EVERY_MS = 60_000;
const SWEEP_COUNT = 500;
const READ_ENTRIES = readFileSync(join(__dirname, 'lua', 'readEntries-1.lua'), 'utf8');

/**
 * Carries each queue's BullMQ event stream into the SSOT. It reads `{prefix}:{queue}:events`
 * itself with XREAD rather than through BullMQ's `QueueEvents`: that is what lets it say exactly
 * which entry the SSOT has up to (`QueueEvents` moves its own position on as it emits, whether or
 * not anything downstream took the event), read every queue in one blocking call on one
 * connection (`QueueEvents` holds one per queue), and take entries in batches.
 *
 * One round: read the next entries of every queue this replica holds the lease of; map them
 * (mapping.ts) with the jobs' states and what their hashes say now; post the events; once the
 * api accepted all of them (202), move on past them. Every SAVE_EVERY_MS (and when a queue goes
 * quiet) each queue's position is saved with the states the entries up to it left, in one atomic
 * step (positions.ts); only accepted entries are ever saved. A crash anywhere loses nothing: the
 * next reader starts from the saved position with the saved states, recomputes the same events
 * with the same ids, and the api keeps one copy of each. So a restart loses nothing BullMQ's
 * stream still holds; what BullMQ trimmed before the bridge read it is lost, and counted
 * (`ssot_bullmq_entries_lost_total`).
 */
export function startStreamReader(options: StreamReaderOptions) {
  const { bull, blocking, redis, store, keys, prefix, queues, publishers, logger, metrics } = options;
  const reading = new Map<string, Reading>();
  if (typeof (bull as Redis & { readEntries?: unknown }).readEntries !== 'function') bull.defineCommand('readEntries', { numberOfKeys: 1, lua: READ_ENTRIES });
  const cache = new StateCache(options.cacheSize ?? 200_000);
  const leaseEveryMs = Math.floor(options.leaseMs / 3);
  let lastLeaseRound = 0;
  let lastInspect = 0;
  let lastSweep = Date.now();
  let lastReadAt = 0;
  const lossesTold = new Map<string, { at: number; since: number }>();
  /** The last read returned a full batch for some queue: more is waiting, read again at once. */
  let backlogged = false;
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
          const { id: cursor, n } = await startingPosition(queue);
          reading.set(queue, { queue, lease, cursor, n, saved: cursor, savedAt: Date.now(), unsaved: new Map(), sweepCursor: '0' });
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

  async function startingPosition(queue: string): Promise<SavedPosition> {
    const saved = await store.position(queue);
    if (saved) return saved;
    // From the start, what BullMQ trimmed before is history from before the bridge, not a loss:
    // the first read counts it as passed.
    if (options.start === 'earliest') return { id: '0', n: null };
    const info = await streamInfo(queue);
    const head = { id: info?.lastGenerated ?? '0', n: info?.added ?? 0 };
    // Saved at once: a restart before the first event must not move "latest" on past events.
    if (head.id !== '0') await store.save(queue, head, new Map());
    return head;
  }

  async function streamInfo(queue: string): Promise<{ lastGenerated: string; added: number } | null> {
    try {
      const flat = (await bull.call('XINFO', 'STREAM', bullKeys(prefix, queue).events)) as unknown[];
      const info: Record<string, unknown> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) info[String(flat[i])] = flat[i + 1];
      return { lastGenerated: String(info['last-generated-id'] ?? '0-0'), added: Number(info['entries-added'] ?? 0) };
    } catch (error) {
      if (String((error as Error).message).includes('no such key')) return null;
      throw error;
    }
  }

  /** Lag per queue: the newest entry's time against the cursor's. */
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
    });
  }

  /**
   * The next entries of every queue read here, with their jobs' facts, in one round trip
   * (readEntries-1.lua, one call per queue issued in the same tick: the connection's
   * auto-pipelining sends them in one write, without the cost of a Pipeline object every read).
   * Queues with nothing new are left out.
   */
  async function readNow(list: Reading[]): Promise<Map<Reading, Read>> {
    const reader = bull as Redis & { readEntries(...args: (string | number)[]): Promise<unknown> };
    const results = await Promise.allSettled(list.map((r) => reader.readEntries(bullKeys(prefix, r.queue).events, r.cursor, options.readCount, `${prefix}:${r.queue}:`)));
    const batch = new Map<Reading, Read>();
    list.forEach((r, i) => {
      const result = results[i]!;
      if (result.status === 'rejected') throw result.reason;
      const [added, length, rows] = result.value as [number, number, [string, string[], (string | null)[]][]];
      if (rows.length === 0) return;
      const entries: StreamEntry[] = [];
      const facts = new Map<string, JobFacts | null>();
      for (const [id, flat, hash] of rows) {
        const fields: Record<string, string> = {};
        for (let f = 0; f + 1 < flat.length; f += 2) fields[flat[f]!] = flat[f + 1]!;
        entries.push({ id, fields });
        const jobId = fields.jobId;
        if (jobId === undefined || hash.length === 0) continue;
        // Read in one step, every entry's copy of a job's hash is the same; `added`'s has `data`.
        const [name, atm, pb, processedOn, finishedOn, data] = hash;
        if (name == null) {
          if (!facts.has(jobId)) facts.set(jobId, null);
          continue;
        }
        facts.set(jobId, {
          ...facts.get(jobId),
          name,
          ...(data == null ? {} : { data }),
          ...numberField('attemptsMade', atm),
          ...(pb == null ? {} : { processedBy: pb }),
          ...numberField('processedOn', processedOn),
          ...numberField('finishedOn', finishedOn),
        });
      }
      runsBefore(entries, facts);
      batch.set(r, { entries, facts, trimmed: Number(added) - Number(length) });
    });
    return batch;
  }

  /**
   * Turns each job's `attemptsMade`, read with the entries (so as of the last one), into what it
   * was before the job's first entry of the read: a job the bridge meets mid-life starts from
   * that. BullMQ counts a run when it finishes it (completed, failed) or requeues it for a retry
   * (waiting after active, not for a stalled worker; delayed after active). Exact when the read
   * reached the stream's end, as it does unless the bridge is catching up.
   */
  function runsBefore(entries: StreamEntry[], facts: Map<string, JobFacts | null>): void {
    const counted = new Map<string, number>();
    const lastEvent = new Map<string, string>();
    entries.forEach(({ fields }, i) => {
      const jobId = fields.jobId;
      if (jobId === undefined) return;
      const event = fields.event;
      const next = entries[i + 1]?.fields;
      const stalled = next?.event === 'stalled' && next.jobId === jobId;
      const afterRun = lastEvent.get(jobId) === 'active' || lastEvent.get(jobId) === 'progress';
      if (event === 'completed' || event === 'failed' || (event === 'waiting' && fields.prev === 'active' && !stalled) || (event === 'delayed' && afterRun)) {
        counted.set(jobId, (counted.get(jobId) ?? 0) + 1);
      }
      if (event !== undefined) lastEvent.set(jobId, event);
    });
    for (const [jobId, runs] of counted) {
      const hash = facts.get(jobId);
      if (hash?.attemptsMade !== undefined) hash.attemptsMade = Math.max(0, hash.attemptsMade - runs);
    }
  }

  /**
   * Waits for the next entry of any queue read here (or BLOCK): XREAD COUNT 1 on a connection of
   * its own, whose answer only says that there is something to read now.
   */
  async function waitForEntries(list: Reading[]): Promise<void> {
    if (blocking.status !== 'ready') await waitForRedis(blocking, options.blockMs + 5000);
    const streams = list.map((r) => bullKeys(prefix, r.queue).events);
    await withTimeout(
      blocking.xread('COUNT', 1, 'BLOCK', options.blockMs, 'STREAMS', ...streams, ...list.map((r) => r.cursor)),
      options.blockMs + 5000,
      'XREAD',
    ).catch((error: unknown) => {
      // A read unanswered far past its BLOCK: the connection is dead without knowing it.
      if (error instanceof TimeoutError) blocking.disconnect(true);
      throw error;
    });
  }

  /**
   * The states of the jobs the entries are about that are not in memory, from Redis. A job whose
   * first entry is `added` under a numeric id needs none: BullMQ's own ids come from a counter and
   * never repeat (custom ids cannot be integers), so it has no past. That is most jobs, and it
   * saves a round trip per read.
   */
  async function loadStates(batch: Map<Reading, Read>): Promise<void> {
    await Promise.all(
      [...batch].map(async ([r, { entries }]) => {
        const fresh = new Set<string>();
        const seen = new Set<string>();
        for (const { fields } of entries) {
          const id = fields.jobId;
          if (id === undefined || seen.has(id)) continue;
          seen.add(id);
          if (fields.event === 'added' && /^\d+$/.test(id)) fresh.add(id);
        }
        for (const id of fresh) if (!r.unsaved.has(id) && !cache.has(r.queue, id)) cache.set(r.queue, id, null);
        const missing = [...seen].filter((id) => !r.unsaved.has(id) && !cache.has(r.queue, id));
        const states = await store.states(r.queue, missing);
        missing.forEach((id, i) => cache.set(r.queue, id, states[i] ?? null));
      }),
    );
  }

  /**
   * The data of jobs first seen in the middle of their life (their `added` entry trimmed, or read
   * by another bridge before the states were saved): the read brings `data` with `added` only,
   * and their user and agent are in it. Rare: one more round trip when it happens.
   */
  async function loadMissingData(batch: Map<Reading, Read>): Promise<void> {
    const wanted: { r: Reading; jobId: string }[] = [];
    for (const [r, { entries, facts }] of batch) {
      const known = new Set<string>();
      for (const entry of entries) {
        const jobId = entry.fields.jobId;
        if (jobId === undefined || known.has(jobId)) continue;
        known.add(jobId);
        const hash = facts.get(jobId);
        if (hash && hash.data === undefined && factsNeeded(entry, stateOf(r, jobId) != null) === 'all') wanted.push({ r, jobId });
      }
    }
    if (wanted.length === 0) return;
    const pipeline = bull.pipeline();
    for (const { r, jobId } of wanted) pipeline.hget(bullKeys(prefix, r.queue).job(jobId), 'data');
    const results = (await pipeline.exec()) ?? [];
    wanted.forEach(({ r, jobId }, i) => {
      const data = results[i]?.[1];
      const hash = batch.get(r)!.facts.get(jobId);
      if (hash && typeof data === 'string') hash.data = data;
    });
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
    // While entries keep coming, one read every batchMs takes them all at once: one round trip
    // to BullMQ and one request to the api per batch instead of per entry. After a quiet spell
    // (the wait below blocked a while) the first entry goes at once.
    const since = Date.now() - lastReadAt;
    if (!backlogged && since < options.batchMs) await idle(options.batchMs - since);
    lastReadAt = Date.now();
    const batch = await readNow(list);
    metrics.rounds.inc();
    // Alive is "reads BullMQ": an api that is away is not cured by restarting the bridge.
    options.watch.progress();
    if (batch.size === 0) {
      backlogged = false;
      await saveDue(list, batch);
      await waitForEntries(list);
      return;
    }
    backlogged = [...batch.values()].some(({ entries }) => entries.length >= options.readCount);
    await loadStates(batch);
    await loadMissingData(batch);

    // Map in stream order per queue; states change in a scratch copy until the api took the events.
    const events: { event: SsotJobEvent; id: string; at: number }[] = [];
    const changes = new Map<Reading, Map<string, JobState | null>>();
    let ignored = 0;
    for (const [r, { entries, facts }] of batch) {
      const scratch = new Map<string, JobState | null>();
      const mapOptions: MapOptions = { queue: r.queue, userIdField: options.userIdField, agentField: options.agentField };
      for (const entry of entries) {
        const jobId = entry.fields.jobId;
        const before = jobId === undefined ? undefined : scratch.has(jobId) ? scratch.get(jobId) : stateOf(r, jobId);
        const mapped = mapEntry(entry, before ?? undefined, jobId === undefined ? null : (facts.get(jobId) ?? null), mapOptions);
        if (jobId !== undefined && mapped.state !== undefined) scratch.set(jobId, mapped.state);
        if (mapped.event) events.push({ event: mapped.event, id: streamEventId(r.queue, entry.id), at: entryTime(entry.id) });
        else if (mapped.dropped) metrics.dropped.inc({ reason: mapped.dropped });
        else ignored += 1;
      }
      changes.set(r, scratch);
      metrics.read.inc({ queue: r.queue }, entries.length);
    }
    metrics.ignored.inc(ignored);

    await post(events, backlogged);

    // The api has them: the cursors move on, the states join what waits to be saved. Counted
    // only now, so a read posted again after a failure does not count its loss twice.
    for (const [r, { entries, trimmed }] of batch) {
      if (r.n !== null && trimmed > r.n) lost(r, trimmed - r.n);
      r.n = Math.max(r.n ?? trimmed, trimmed) + entries.length;
      r.cursor = entries[entries.length - 1]!.id;
      for (const [jobId, state] of changes.get(r)!) r.unsaved.set(jobId, state);
    }
    await saveDue(list, batch);
  }

  /** Saves the queues whose save is due: quiet ones (nothing read this time) at once, others every SAVE_EVERY_MS. */
  async function saveDue(list: Reading[], batch: Map<Reading, Read>): Promise<void> {
    const due = (r: Reading) => r.saved !== r.cursor && (!batch.has(r) || Date.now() - r.savedAt >= SAVE_EVERY_MS || r.unsaved.size >= SAVE_AT_STATES);
    await Promise.all(list.filter(due).map(save));
  }

  /** Counts entries BullMQ trimmed unread; says so at most once a minute per queue, with how many since. */
  function lost(r: Reading, entries: number): void {
    metrics.lost.inc({ queue: r.queue }, entries);
    const told = lossesTold.get(r.queue) ?? { at: 0, since: 0 };
    told.since += entries;
    if (Date.now() - told.at >= LOSS_LOG_EVERY_MS) {
      logger.error(
        { queue: r.queue, position: r.cursor, entries: told.since },
        'BullMQ trimmed event stream entries before the bridge read them: their events are lost (raise streams.events.maxLen)',
      );
      told.at = Date.now();
      told.since = 0;
    }
    lossesTold.set(r.queue, told);
  }

  /** The state the job is in after the entries accepted so far; undefined: not in memory. */
  function stateOf(r: Reading, jobId: string): JobState | null | undefined {
    return r.unsaved.has(jobId) ? r.unsaved.get(jobId) : cache.get(r.queue, jobId);
  }

  /** Saves the queue's cursor with the states that wait (fenced: false when another replica saved further). */
  async function save(r: Reading): Promise<void> {
    const position = { id: r.cursor, n: r.n };
    const states = r.unsaved;
    r.unsaved = new Map();
    if (!(await store.save(r.queue, position, states))) {
      drop(r.queue, 'another replica saved a position past this one');
      return;
    }
    r.saved = position.id;
    r.savedAt = Date.now();
    for (const [jobId, state] of states) cache.set(r.queue, jobId, state);
  }

  /** Posts the round's events and waits for the api's answer to each; throws unless all were taken or refused for good. */
  async function post(events: { event: SsotJobEvent; id: string; at: number }[], catchingUp: boolean): Promise<void> {
    if (events.length === 0) return;
    // Keeping up, a round goes in as few requests as it needs: each request is a dispatcher batch
    // and a snapshot build downstream, and splitting rounds that fit in one request in two made
    // the SSOT do twice the work for the same events (at 1,000 events/s, ~0.4 cores more of
    // PostgreSQL, collector and dispatcher; bench/bridge-bullmq.mjs). Catching up (a full read),
    // every publisher takes a share, so the api's answers overlap. Rounds follow one another, so
    // a job's events stay in order however a round is split.
    const lanes = catchingUp ? publishers.length : Math.min(publishers.length, Math.ceil(events.length / options.requestEvents));
    const sent = events.map(({ event, id, at }) =>
      publishers[lanes === 1 ? 0 : spread(event.payload.job_id, lanes)]!.publish(event.name, event.payload as never, { id, occurredAt: new Date(at) }),
    );
    for (const publisher of publishers.slice(0, lanes)) void publisher.flush();
    const results = await Promise.allSettled(sent);
    const now = Date.now();
    let failure: unknown = null;
    const posted = new Map<string, number>();
    results.forEach((result, i) => {
      const { event, at } = events[i]!;
      if (result.status === 'fulfilled') {
        posted.set(event.name, (posted.get(event.name) ?? 0) + 1);
        metrics.age.observe((now - at) / 1000);
      } else if (result.reason instanceof IngestError && (result.reason.status === 400 || result.reason.status === 413)) {
        // Refused for good: posting it again would be refused again.
        metrics.dropped.inc({ reason: result.reason.status === 400 ? 'refused' : 'too_large' });
        logger.warn({ event: event.name, job: event.payload.job_id, err: result.reason.message }, 'event refused by the api; skipped');
      } else {
        failure ??= result.reason;
      }
    });
    for (const [name, n] of posted) metrics.posted.inc({ name }, n);
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
      await Promise.all([...reading.values()].filter((r) => r.saved !== r.cursor).map((r) => save(r).catch(() => {})));
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

/** A job id's share among `n` (FNV-1a): the same job, the same publisher. */
function spread(jobId: string, n: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < jobId.length; i += 1) hash = Math.imul(hash ^ jobId.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % n;
}

function numberField<K extends string>(name: K, text: string | null | undefined): { [P in K]?: number } {
  const value = text == null ? NaN : Number(text);
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

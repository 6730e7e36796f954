import {
  type AgentEvent,
  type BroadcastMessage,
  DEFAULT_EVENT_SOURCE,
  DISPATCHER_GROUP,
  EVENT_DISPATCH_CONFIG,
  eventEnvelope,
  type RedisKeys,
  roomsFor,
  type SectionName,
} from '@agentos/contracts';
import type { PreparedQuery, PrismaClient } from '@agentos/db';
import {
  addRefreshRequest,
  appendEvents,
  type ChainableCommander,
  compareStreamIds,
  entryField,
  errorSummary,
  type Logger,
  type Redis,
  type StreamEntry,
} from '@agentos/runtime';
import { alertSummary } from './actions/alert-ops';
import { checkMinimumWorkers } from './actions/check-minimum-workers';
import { considerScaling, type ScalingOptions } from './actions/consider-scaling';
import { deadLetter } from './dead-letter';
import { addLiveState, changesWorkers } from './live-state';
import type { DispatcherMetrics } from './metrics';
import { persistBatch, type PersistResult, type QueueLevel } from './persist';
import { addThresholdChecks } from './thresholds';

export interface DispatcherDeps {
  prisma: PrismaClient;
  /** Prepared statements over Prisma's pool (`createDatabase`): the persist, once per batch. */
  query: PreparedQuery;
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  metrics: DispatcherMetrics;
  heartbeatTtlS: number;
  maxDeliveries: number;
  retryBaseMs: number;
  scaling: ScalingOptions;
  /** With a webhook, alert_ops' posts go to the outbox with each batch, and `onAlerts` is called. */
  alertWebhookUrl?: string;
  /** After a batch wrote alerts to the outbox: wakes the delivery loop. */
  onAlerts?: () => void;
  /** `EVENT_STREAM_MAXLEN`, for the events this dispatcher raises itself (threshold warnings). */
  streamMaxLen: number;
}

/** Twice the largest EVENT_BATCH: more previews than that are left over from failed rounds. */
const MAX_PREVIEWED = 10_000;

interface Item {
  entryId: string;
  event: AgentEvent;
  /** Failed deliveries so far. */
  failures: number;
  /** Its socket messages went out when it was read (`preview`). */
  previewed?: boolean;
}

interface Attempts {
  n: number;
  at: number;
  reason: string;
}

/**
 * The seed's EventDispatcher, per batch read off the event stream. For every event the three
 * branches of its dispatch rule — cache (persist, then refresh the named sections), websocket
 * (publish for the gateways, at once, beside the persist), actions (after the persist: the
 * notify_admin notification commits with it) — and the event is acknowledged only when all
 * succeeded.
 * A failed event stays pending, is retried with backoff, and after `maxDeliveries` goes to the
 * dead-letter stream with the reason; the events behind it go on.
 */
export function createDispatcher(deps: DispatcherDeps) {
  const alerts = Boolean(deps.alertWebhookUrl);
  /**
   * Entries `preview` published ahead of their batch (the stream consumer's `onRead`, with
   * EVENT_MIN_INTERVAL_MS): the parsed event and its publish, taken out by `handle`, which gets
   * them next. A round that fails before `handle` leaves its entries here (the claim brings them
   * back, and `handle` forgets a claimed entry's preview); past `MAX_PREVIEWED` the oldest go.
   */
  const previewed = new Map<string, { event: AgentEvent; published: Promise<void> }>();

  /**
   * Websocket branch, ahead of the batch: the socket messages of new entries go out as they are
   * read, while the stream consumer gathers the batch the persist paces. A malformed entry is
   * left to `handle` (dead letters); a failed publish fails the batch there, as in `handle`.
   */
  function preview(entries: StreamEntry[]): void {
    const events: AgentEvent[] = [];
    const ids: string[] = [];
    for (const [entryId, fields] of entries) {
      try {
        events.push(parseStreamEvent(entryField(fields, 'event') ?? ''));
        ids.push(entryId);
      } catch {
        // handle() dead-letters it, with the reason.
      }
    }
    const published = broadcast(events);
    published.catch(() => {}); // awaited by handle(); no unhandled rejection meanwhile
    for (const [i, entryId] of ids.entries()) previewed.set(entryId, { event: events[i]!, published });
    for (const entryId of previewed.keys()) {
      if (previewed.size <= MAX_PREVIEWED) break;
      previewed.delete(entryId);
    }
  }

  async function handle(entries: StreamEntry[], read: { claimed: boolean } = { claimed: true }): Promise<string[]> {
    const ack: string[] = [];
    const early = new Set<Promise<void>>();
    const items = await decode(entries, ack, read.claimed, early);
    if (items.length === 0) return ack;

    // Websocket branch, beside the persist: a socket message does not wait for the database. It
    // is at least once either way (an event retried after a failed persist is published again).
    // What `preview` published already is not published again.
    const fresh = broadcast(items.filter((i) => !i.previewed).map((i) => i.event));
    const published = Promise.all([fresh, ...early]);
    published.catch(() => {}); // awaited below, with the other branches; no unhandled rejection meanwhile

    // Cache branch, part one: the effect in the database. One transaction for the batch; if it
    // fails, one per event, so one bad event cannot hold the others back.
    const failed = new Map<string, string>();
    let persisted: PersistResult;
    try {
      persisted = await persistBatch(deps.query, items.map((i) => i.event), { alerts });
    } catch (batchError) {
      deps.logger.warn({ err: (batchError as Error).message, events: items.length }, 'batch persist failed; persisting event by event');
      persisted = { applied: new Set(), queues: [] };
      for (const item of items) {
        try {
          const one = await persistBatch(deps.query, [item.event], { alerts });
          for (const id of one.applied) persisted.applied.add(id);
          persisted.queues.push(...one.queues);
        } catch (error) {
          failed.set(item.entryId, `persist: ${errorSummary(error, 500)}`);
        }
      }
    }
    const done = items.filter((i) => !failed.has(i.entryId));

    // The other branches, in parallel. Redis being away fails the whole batch (thrown: nothing
    // acknowledged, all retried); an action fails only its own event.
    const events = done.map((i) => i.event);
    const [, , actions] = await Promise.all([applyLiveStateAndCheck(events, persisted), published, runActions(done)]);
    for (const [entryId, reason] of actions.failures) failed.set(entryId, reason);

    for (const item of done) {
      if (failed.has(item.entryId)) continue;
      ack.push(item.entryId);
      deps.metrics.processed.inc({ name: item.event.name, outcome: persisted.applied.has(item.event.id) ? 'applied' : 'duplicate' });
      deps.metrics.latency.observe((Date.now() - streamTime(item.entryId)) / 1000);
    }
    for (const item of items) {
      const reason = failed.get(item.entryId);
      if (reason !== undefined && (await recordFailure(item, reason))) ack.push(item.entryId);
    }

    // The end of the batch in one round trip: the failure records of events that succeeded on a
    // retry go, the batch is acknowledged, then the refresh is asked for. Acknowledged first:
    // the collector claims a version covers an event only once no dispatcher holds it pending
    // (collector refresh-consumer.ts), so a request read earlier would be answered by a version
    // that cannot claim its own batch; a pipeline runs its commands in order. A crash before it
    // leaves the batch pending (retried, deduplicated by the persist); the refresh's own failure
    // leaves it to the next request or warm (≤ 5 s). Worker state written, the workers'
    // generation goes up before the acknowledgement: a collector that reuses the workers it read
    // earlier (collector sections/workers.ts) reads them again before it can claim this batch.
    const end = deps.redis.pipeline();
    const recovered = items.filter((i) => i.failures > 0 && !failed.has(i.entryId)).map((i) => i.entryId);
    if (recovered.length > 0) end.hdel(deps.keys.eventAttempts, ...recovered);
    if (events.some(changesWorkers)) end.incr(deps.keys.workersGeneration);
    if (ack.length > 0) end.xack(deps.keys.events, DISPATCHER_GROUP, ...ack);
    addSectionRequest(end, events, actions.sections, done);
    if (end.length > 0) throwFirstError(await end.exec());
    return [];
  }

  /**
   * Parses entries; malformed ones go straight to the dead letters. Retries not yet due wait.
   * Only claimed entries can have failed before: new ones skip the read of the failure records.
   */
  async function decode(entries: StreamEntry[], ack: string[], claimed: boolean, early: Set<Promise<void>>): Promise<Item[]> {
    const attempts = claimed ? await deps.redis.hmget(deps.keys.eventAttempts, ...entries.map(([id]) => id)) : [];
    const items: Item[] = [];
    for (const [index, [entryId, fields]] of entries.entries()) {
      const ahead = previewed.get(entryId);
      previewed.delete(entryId);
      if (ahead && !claimed) {
        // A new entry (never claimed): no failure record to read, parsed already.
        early.add(ahead.published);
        items.push({ entryId, event: ahead.event, failures: 0, previewed: true });
        continue;
      }
      const raw = entryField(fields, 'event') ?? '';
      const prior = parseAttempts(attempts[index] ?? null);
      if (prior && Date.now() - prior.at < deps.retryBaseMs * 2 ** (prior.n - 1)) continue;
      let event: AgentEvent;
      try {
        event = parseStreamEvent(raw);
      } catch (error) {
        deps.logger.error({ entryId, err: (error as Error).message.slice(0, 200) }, 'malformed event dead-lettered');
        await deadLetter(deps.redis, deps.keys, { event: raw, reason: `malformed: ${(error as Error).message.slice(0, 500)}`, deliveries: '1', failed_at: new Date().toISOString(), source_id: entryId });
        deps.metrics.deadLetters.inc();
        ack.push(entryId);
        continue;
      }
      items.push({ entryId, event, failures: prior?.n ?? 0 });
    }
    return items;
  }

  /** Counts a failed delivery; true when the event was dead-lettered (acknowledge it). */
  async function recordFailure(item: Item, reason: string): Promise<boolean> {
    const n = item.failures + 1;
    deps.metrics.processed.inc({ name: item.event.name, outcome: 'failed' });
    if (n >= deps.maxDeliveries) {
      deps.logger.error({ id: item.event.id, name: item.event.name, deliveries: n, reason }, 'event dead-lettered');
      await deadLetter(deps.redis, deps.keys, {
        event: JSON.stringify(item.event),
        reason,
        deliveries: String(n),
        failed_at: new Date().toISOString(),
        source_id: item.entryId,
      });
      deps.metrics.deadLetters.inc();
      deps.metrics.processed.inc({ name: item.event.name, outcome: 'dead_lettered' });
      return true;
    }
    deps.logger.warn({ id: item.event.id, name: item.event.name, deliveries: n, reason }, 'event failed; will retry');
    const record: Attempts = { n, at: Date.now(), reason };
    await deps.redis.hset(deps.keys.eventAttempts, item.entryId, JSON.stringify(record));
    return false;
  }

  /**
   * Cache branch, part two: live worker state in Redis (the snapshot overlays it) and threshold
   * crossings, whose warnings are events of their own — one round trip for both (the warnings,
   * when a queue crossed, one more).
   */
  async function applyLiveStateAndCheck(events: AgentEvent[], persisted: PersistResult): Promise<void> {
    const pipeline = deps.redis.pipeline();
    addLiveState(pipeline, deps.keys, events, deps.heartbeatTtlS);
    const live = pipeline.length;
    const readWarnings = addThresholdChecks(pipeline, deps.keys, latestLevels(persisted.queues));
    if (pipeline.length === 0) return;
    const replies = (await pipeline.exec()) ?? [];
    throwFirstError(replies.slice(0, live));
    await appendEvents(deps.redis, deps.keys, readWarnings(replies.slice(live)), deps.streamMaxLen);
  }

  /**
   * Cache branch, part three: ONE refresh request, added to `pipeline`, for every section the
   * batch's events name and every section showing what its actions wrote (a notification, a
   * scaling recommendation). A burst of events costs one rebuild per section, not one per event,
   * and the collector coalesces requests further.
   */
  function addSectionRequest(pipeline: ChainableCommander, events: readonly AgentEvent[], fromActions: ReadonlySet<SectionName>, done: readonly Item[]): void {
    const sections = new Set<SectionName>(fromActions);
    for (const event of events) for (const section of EVENT_DISPATCH_CONFIG[event.name].sections) sections.add(section);
    if (sections.size === 0 || done.length === 0) return;
    const upto = done.map((i) => i.entryId).reduce((a, b) => (compareStreamIds(a, b) >= 0 ? a : b));
    addRefreshRequest(pipeline, deps.keys, [...sections], `events:${events.length}`, { eventsUpto: upto });
  }

  /** Websocket branch: one message per event to its rooms, for the gateways. */
  async function broadcast(events: AgentEvent[]): Promise<void> {
    const pipeline = deps.redis.pipeline();
    let any = false;
    const timestamp = new Date().toISOString();
    for (const event of events) {
      const rule = EVENT_DISPATCH_CONFIG[event.name];
      if (!('websocket' in rule)) continue;
      const message: BroadcastMessage = {
        rooms: roomsFor(rule, event.payload as { user_id?: string }),
        message: { type: rule.websocket.event, data: { ...event.payload, id: event.id }, timestamp },
      };
      pipeline.publish(deps.keys.broadcastChannel, JSON.stringify(message));
      any = true;
    }
    if (!any) return;
    throwFirstError(await pipeline.exec());
  }

  /**
   * Actions branch. Resolves with entry id → reason for the events whose actions failed, and the
   * snapshot sections showing what the actions wrote.
   */
  async function runActions(items: Item[]): Promise<{ failures: Map<string, string>; sections: Set<SectionName> }> {
    const failures = new Map<string, string>();
    const sections = new Set<SectionName>();
    await Promise.all(
      items.map(async (item) => {
        const rule = EVENT_DISPATCH_CONFIG[item.event.name];
        if (!('actions' in rule)) return;
        for (const action of rule.actions) {
          try {
            for (const section of await runAction(action, item.event)) sections.add(section);
          } catch (error) {
            deps.metrics.actionFailures.inc({ action });
            failures.set(item.entryId, `${action}: ${errorSummary(error, 500)}`);
            return;
          }
        }
      }),
    );
    return { failures, sections };
  }

  /** Runs one action; resolves with the sections that show what it wrote. */
  async function runAction(action: string, event: AgentEvent): Promise<SectionName[]> {
    const publish = (rooms: string[], type: string, data: unknown) =>
      deps.redis.publish(deps.keys.broadcastChannel, JSON.stringify({ rooms, message: { type, data, timestamp: new Date().toISOString() } } satisfies BroadcastMessage));
    switch (action) {
      case 'notify_admin':
        // The notification itself was written with the event's effect (persist.ts).
        await publish(['admin'], 'notification', { event_id: event.id, kind: 'notify_admin', event: event.name, payload: event.payload });
        return [];
      case 'alert_ops': {
        // The webhook post, if any, was written to the outbox with the event's effect.
        const summary = alertSummary(event);
        deps.logger.warn({ event: event.name, id: event.id }, `alert: ${summary}`);
        await publish(['alerts'], 'alert', { event_id: event.id, summary });
        if (alerts) deps.onAlerts?.();
        return [];
      }
      case 'check_minimum_workers': {
        const shortage = await checkMinimumWorkers(deps.prisma, event);
        if (shortage) {
          const summary = `${shortage.online} worker(s) online, minimum ${shortage.minimum}`;
          await publish(['admin', 'alerts'], 'alert', { event_id: event.id, summary, ...shortage });
          return ['dashboard'];
        }
        return [];
      }
      case 'consider_scaling': {
        if (event.name !== 'queue:threshold_warning') return [];
        const recommended = await considerScaling(deps.prisma, deps.redis, deps.keys, event.payload.queue, deps.scaling);
        deps.logger.info({ queue: event.payload.queue, recommended }, 'scaling recommendation');
        return ['queue'];
      }
      default:
        throw new Error(`unknown action ${action}`);
    }
  }

  return { handle, preview };
}

/** An event as the api put it on the stream; throws what is wrong with it. */
function parseStreamEvent(raw: string): AgentEvent {
  const parsed = eventEnvelope.parse(JSON.parse(raw)) as Partial<AgentEvent>;
  if (!parsed.id || !parsed.occurred_at) throw new Error('id and occurred_at are required on the stream');
  // Entries written before events carried a source came from the api.
  return { ...parsed, source: parsed.source ?? DEFAULT_EVENT_SOURCE } as AgentEvent;
}

/** Throws the first error among a pipeline's replies (Redis away fails the whole batch: retried). */
function throwFirstError(replies: readonly [Error | null, unknown][] | null): void {
  const failed = replies?.find(([error]) => error);
  if (failed) throw failed[0];
}

/** The last level reported per queue (event-by-event persisting reports a queue once per event). */
function latestLevels(levels: readonly QueueLevel[]): QueueLevel[] {
  return [...new Map(levels.map((level) => [level.queue, level])).values()];
}

function parseAttempts(raw: string | null): Attempts | null {
  if (!raw) return null;
  try {
    return JSON.parse(raw) as Attempts;
  } catch {
    return null;
  }
}

/** Milliseconds part of a stream entry id: when the entry was added. */
function streamTime(entryId: string): number {
  return Number(entryId.split('-', 1)[0]);
}

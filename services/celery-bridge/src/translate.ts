import type { EventName, EventPayload, JobPayload } from '@agentos/contracts';
import { type AgentMap, agentFor } from './agent-map';
import type { CeleryEvent, CeleryTaskEvent, CeleryWorkerEvent } from './celery-event';
import { isTaskEvent } from './celery-event';
import { celeryEventId } from './event-ids';

/** One SSOT event, ready for `EventPublisher.publish`. */
export type SsotEvent = {
  [N in EventName]: {
    id: string;
    name: N;
    payload: EventPayload<N>;
    /** ISO time: Celery's timestamp (or the time it was read, for a clock far ahead). */
    occurredAt: string;
    /** The same instant, epoch ms: where the lag is measured from. */
    at: number;
  };
}[EventName];

/** What the translator noticed that the metrics count. Every member is optional. */
export interface TranslatorObserver {
  /** A task first seen after its creation: its `task-sent`/`task-received` were missed. */
  onJoinedLate?(): void;
  /** Ticks missing from a sender's Lamport clock (an upper bound of events missed: see README). */
  onClockSkipped?(ticks: number): void;
  /** Heartbeats a worker should have sent between two that were seen. */
  onHeartbeatsMissed?(count: number): void;
  /** An event dated more than `MAX_AHEAD_MS` ahead: it got the time it was read instead. */
  onClockAhead?(): void;
  /**
   * A worker showed itself (online or heartbeat); `fresh` when it was not known, or known
   * offline, or says it just came online: time to ask it what it consumes.
   */
  onWorkerSeen?(hostname: string, fresh: boolean): void;
}

export interface TranslatorOptions {
  agentMap: AgentMap;
  /** Queue of a task whose queue Celery never named (`CELERY_QUEUES`' first). */
  defaultQueue: string;
  /** `CELERY_SENT_WAIT_MS`. */
  sentWaitMs: number;
  /** `CELERY_TRACEBACK_CHARS`. */
  tracebackChars: number;
  /** `CELERY_MAX_TRACKED_TASKS`. */
  maxTrackedTasks: number;
  observer?: TranslatorObserver;
  /** @default Date.now */
  now?: () => number;
}

/** What a worker said of itself when inspected (either may be missing). */
export interface WorkerInfo {
  queues?: string[];
  concurrency?: number;
}

/**
 * A heartbeat vouches for its worker this many periods (`freq`). Celery's own monitors (Flower,
 * `celery events`) call a worker gone 2 periods after its last heartbeat; one more period covers
 * the trip through the bridge and the SSOT, so a single late heartbeat does not flap the worker.
 */
export const HEARTBEAT_TTL_PERIODS = 3;
/** Celery's default heartbeat period (`celery/worker/heartbeat.py`), for events that omit `freq`. */
const DEFAULT_FREQ_S = 2;
/** Further ahead of this process's clock than this, an event's timestamp is not believed. */
export const MAX_AHEAD_MS = 60_000;
/** The type of a job whose task name was never seen (the bridge joined after its creation). */
export const UNKNOWN_TASK_TYPE = 'unknown';
/** How long a `task-sent` seen anywhere makes the bridge expect them for other tasks. */
const SENT_EVENTS_MEMORY_MS = 10 * 60_000;

/** The facts of one task event, fixed when it arrives (the task's state moves on after it). */
interface TaskFacts {
  name: 'job:created' | 'job:processing' | 'job:completed' | 'job:failed' | 'job:cancelled';
  id: string;
  at: number;
  attempt?: number;
  worker?: string;
  durationMs?: number;
  error?: string;
  reason?: string;
}

interface TaskRecord {
  name?: string;
  queue?: string;
  /**
   * Highest run a worker received (`task-received`'s `retries` + 1). A worker's own events come
   * in order (its Lamport clock), so its `task-started` is about the run it received last;
   * `task-sent` comes from other processes (clients, a retrying task's pool process) and may
   * overtake the worker's events, so it does not count here.
   */
  attempt?: number;
  /** Highest run announced by a `task-sent`. */
  sent?: number;
  /**
   * Highest run a `job:created` was made for. A run is announced up to three times (the client's
   * task-sent, the worker's task-received, and task-retried for the next run), saying the same
   * thing: the first one makes the job pending in that run, the others would only be a quarter
   * more events for the api and the SSOT to carry.
   */
  created?: number;
  /** The run that started last and has not ended: the one a finish or a retry is about. */
  running?: number;
  startedAt?: number;
  /** The worker that received it. */
  worker?: string;
  /** Events waiting for the task's queue (its `task-sent`), in arrival order. */
  held?: { facts: TaskFacts[]; until: number };
}

interface WorkerRecord {
  online: boolean;
  freq: number;
  info?: WorkerInfo;
  /** Most tasks seen running at once: the concurrency shown until `inspect` answers. */
  maxActive: number;
  lastHeartbeat?: number;
}

/**
 * Celery's events → the SSOT's (README: the mapping table). Stateful, because Celery's events do
 * not repeat what the SSOT needs on each: only `task-sent` names the queue and only `task-sent`/
 * `task-received` the task and its `retries`, so the task's name, queue and run are remembered
 * (bounded: the oldest tasks are forgotten first). No I/O, no timers: the caller feeds events in
 * the order read and calls `expire` now and then to release tasks held past their wait.
 */
export class Translator {
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly workers = new Map<string, WorkerRecord>();
  private readonly agents = new Map<string, string | undefined>();
  /** Last clock per sender (`hostname` + `pid`). */
  private readonly clocks = new Map<string, number>();
  private readonly now: () => number;
  private lastSentEventAt = -Infinity;
  /** The tasks whose events are held, in the order their wait began (so, of their deadlines). */
  private readonly heldTasks = new Map<string, TaskRecord>();

  constructor(private readonly options: TranslatorOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Tasks whose events are held waiting for their queue. */
  get held(): number {
    return this.heldTasks.size;
  }

  /** Tasks remembered. */
  get tracked(): number {
    return this.tasks.size;
  }

  /** The SSOT events for one Celery event (none, one or several), in the order to post them. */
  translate(event: CeleryEvent): SsotEvent[] {
    this.trackClock(event);
    return isTaskEvent(event) ? this.task(event) : this.worker(event);
  }

  /** Releases the tasks held past their wait, with the best queue known. */
  expire(): SsotEvent[] {
    if (this.heldTasks.size === 0) return [];
    const now = this.now();
    const out: SsotEvent[] = [];
    // In deadline order: stop at the first still waiting.
    for (const [uuid, record] of this.heldTasks) {
      if (record.held!.until > now) break;
      out.push(...this.release(uuid, record, this.fallbackQueue(record)));
    }
    return out;
  }

  /** Releases every held task (shutdown). */
  drain(): SsotEvent[] {
    const out: SsotEvent[] = [];
    for (const [uuid, record] of this.heldTasks) out.push(...this.release(uuid, record, this.fallbackQueue(record)));
    return out;
  }

  /** What `inspect` said of a worker. */
  setWorkerInfo(hostname: string, info: WorkerInfo): void {
    const worker = this.workers.get(hostname);
    if (worker) worker.info = info;
  }

  /** Workers known online. */
  onlineWorkers(): { hostname: string; queues: readonly string[] | undefined }[] {
    return [...this.workers].filter(([, w]) => w.online).map(([hostname, w]) => ({ hostname, queues: w.info?.queues }));
  }

  // --- tasks -------------------------------------------------------------------------------

  private task(event: CeleryTaskEvent): SsotEvent[] {
    const existing = this.tasks.get(event.uuid);
    const record: TaskRecord = existing ?? {};
    // Map order is the forgetting order: a task that shows up again moves to the end.
    if (existing) this.tasks.delete(event.uuid);
    this.tasks.set(event.uuid, record);
    const out = this.forgetOldest();

    const facts = this.factsOf(event, record, existing === undefined);
    if (record.held) {
      // The task's creation goes first, whenever its task-sent arrived.
      if (facts) record.held.facts[event.type === 'task-sent' ? 'unshift' : 'push'](facts);
      // The queue is what held events wait for: a task-sent that named it releases them.
      if (record.queue) out.push(...this.release(event.uuid, record, record.queue));
      return out;
    }
    if (!facts) return out;
    const queue = this.queueNow(record);
    if (queue !== undefined) {
      out.push(this.jobEvent(event.uuid, record, queue, facts));
      return out;
    }
    record.held = { facts: [facts], until: this.now() + this.options.sentWaitMs };
    this.heldTasks.set(event.uuid, record);
    return out;
  }

  /** Updates what is known of the task and says what this event means for the job. */
  private factsOf(event: CeleryTaskEvent, record: TaskRecord, isNew: boolean): TaskFacts | null {
    const at = this.timeOf(event.timestamp);
    const id = celeryEventId(event.uuid, event.type, event.timestamp);
    switch (event.type) {
      case 'task-sent': {
        this.lastSentEventAt = this.now();
        record.name = event.name;
        const queue = event.queue || event.routing_key || undefined;
        const attempt = (event.retries ?? 0) + 1;
        record.sent = Math.max(record.sent ?? 0, attempt);
        if (queue && !record.queue) record.queue = queue;
        return this.createdOnce(record, { name: 'job:created', id, at, attempt });
      }
      case 'task-received': {
        record.name = event.name;
        record.worker = event.hostname;
        const attempt = (event.retries ?? 0) + 1;
        record.attempt = Math.max(record.attempt ?? 0, attempt);
        return this.createdOnce(record, { name: 'job:created', id, at, attempt, worker: event.hostname });
      }
      case 'task-started': {
        if (isNew) this.options.observer?.onJoinedLate?.();
        record.running = record.attempt ?? record.sent;
        record.startedAt = at;
        record.worker = event.hostname;
        return { name: 'job:processing', id, at, attempt: record.running, worker: event.hostname };
      }
      case 'task-succeeded': {
        if (isNew) this.options.observer?.onJoinedLate?.();
        const facts: TaskFacts = { name: 'job:completed', id, at, attempt: record.running ?? record.attempt, worker: event.hostname };
        if (event.runtime !== undefined) facts.durationMs = Math.round(event.runtime * 1000);
        else if (record.startedAt !== undefined) facts.durationMs = Math.max(0, Math.round(at - record.startedAt));
        this.ended(record);
        return facts;
      }
      case 'task-failed': {
        if (isNew) this.options.observer?.onJoinedLate?.();
        const facts: TaskFacts = { name: 'job:failed', id, at, attempt: record.running ?? record.attempt, worker: event.hostname };
        facts.error = this.errorText(event.exception, event.traceback);
        if (record.startedAt !== undefined) facts.durationMs = Math.max(0, Math.round(at - record.startedAt));
        this.ended(record);
        return facts;
      }
      case 'task-retried': {
        if (isNew) this.options.observer?.onJoinedLate?.();
        // The run that raised Retry is over; the job waits for the next. `task-retried` carries
        // no `retries`, and the next run's `task-sent`/`task-received` may come before it: the
        // next run is the one after the run that was going, not after the highest seen.
        const ran = record.running ?? record.attempt;
        this.ended(record);
        if (ran === undefined) return null;
        return this.createdOnce(record, { name: 'job:created', id, at, attempt: ran + 1 });
      }
      case 'task-revoked': {
        if (isNew) this.options.observer?.onJoinedLate?.();
        const facts: TaskFacts = { name: 'job:cancelled', id, at, attempt: record.running ?? record.attempt, worker: event.hostname };
        facts.reason = event.expired ? 'expired (revoked by Celery)' : event.terminated ? `revoked and terminated (signal ${event.signum ?? 'TERM'})` : 'revoked';
        if (event.terminated && record.startedAt !== undefined) facts.durationMs = Math.max(0, Math.round(at - record.startedAt));
        this.ended(record);
        return facts;
      }
    }
  }

  /** The facts of a run's creation, unless that run (or a later one) was announced already. */
  private createdOnce(record: TaskRecord, facts: TaskFacts & { attempt: number }): TaskFacts | null {
    if (record.created !== undefined && facts.attempt <= record.created) return null;
    record.created = facts.attempt;
    return facts;
  }

  private ended(record: TaskRecord): void {
    record.running = undefined;
    record.startedAt = undefined;
  }

  /** The task's queue if it can be told now, else undefined (wait for its `task-sent`). */
  private queueNow(record: TaskRecord): string | undefined {
    if (record.queue) return record.queue;
    const workerQueues = record.worker ? this.workers.get(record.worker)?.info?.queues : undefined;
    if (workerQueues?.length === 1) return workerQueues[0];
    // No name: its task-sent and task-received were both missed; waiting would not bring them.
    if (record.name === undefined) return this.options.defaultQueue;
    const expectSent = this.now() - this.lastSentEventAt < SENT_EVENTS_MEMORY_MS;
    return expectSent && this.options.sentWaitMs > 0 ? undefined : this.options.defaultQueue;
  }

  private fallbackQueue(record: TaskRecord): string {
    if (record.queue) return record.queue;
    const workerQueues = record.worker ? this.workers.get(record.worker)?.info?.queues : undefined;
    return workerQueues?.length === 1 ? workerQueues[0]! : this.options.defaultQueue;
  }

  private release(uuid: string, record: TaskRecord, queue: string): SsotEvent[] {
    const held = record.held!.facts;
    record.held = undefined;
    this.heldTasks.delete(uuid);
    // The SSOT keeps the queue a job was first posted with: later events must say the same.
    record.queue = queue;
    return held.map((facts) => this.jobEvent(uuid, record, queue, facts));
  }

  private jobEvent(uuid: string, record: TaskRecord, queue: string, facts: TaskFacts): SsotEvent {
    const type = record.name ?? UNKNOWN_TASK_TYPE;
    const agent = record.name === undefined ? undefined : this.agentOf(record.name);
    const payload: JobPayload & { reason?: string } = { job_id: uuid, queue, type };
    if (agent !== undefined) payload.agent = agent;
    if (facts.worker !== undefined) payload.worker_id = facts.worker;
    if (facts.attempt !== undefined) payload.attempt = facts.attempt;
    if (facts.durationMs !== undefined) payload.duration_ms = facts.durationMs;
    if (facts.error !== undefined) payload.error = facts.error;
    if (facts.reason !== undefined) payload.reason = facts.reason;
    return { id: facts.id, name: facts.name, payload, occurredAt: new Date(facts.at).toISOString(), at: facts.at } as SsotEvent;
  }

  /** The agent of a task name, looked up once per name (a cluster has a few dozen). */
  private agentOf(name: string): string | undefined {
    if (this.agents.has(name)) return this.agents.get(name);
    const agent = agentFor(this.options.agentMap, name);
    if (this.agents.size < 10_000) this.agents.set(name, agent);
    return agent;
  }

  /** The exception (Python repr), then the end of the traceback, where it was raised. */
  private errorText(exception: string | null | undefined, traceback: string | null | undefined): string {
    const head = (exception || 'task failed').slice(0, 2000);
    const limit = this.options.tracebackChars;
    if (!traceback || limit === 0) return head;
    const tail = traceback.length > limit ? `…${traceback.slice(traceback.length - limit)}` : traceback;
    return `${head}\n${tail}`;
  }

  /** Forgets the oldest tasks past the bound; one still held is released as it stands. */
  private forgetOldest(): SsotEvent[] {
    const out: SsotEvent[] = [];
    while (this.tasks.size > this.options.maxTrackedTasks) {
      const [uuid, record] = this.tasks.entries().next().value as [string, TaskRecord];
      if (record.held) out.push(...this.release(uuid, record, this.fallbackQueue(record)));
      this.tasks.delete(uuid);
    }
    return out;
  }

  // --- workers -----------------------------------------------------------------------------

  private worker(event: CeleryWorkerEvent): SsotEvent[] {
    const at = this.timeOf(event.timestamp);
    const hostname = event.hostname;
    let worker = this.workers.get(hostname);
    const freq = event.freq ?? worker?.freq ?? DEFAULT_FREQ_S;
    if (event.type === 'worker-offline') {
      if (worker) worker.online = false;
      return [
        {
          id: celeryEventId(hostname, event.type, event.timestamp),
          name: 'worker:offline',
          payload: { worker_id: hostname, reason: 'worker-offline: the Celery worker shut down' },
          occurredAt: new Date(at).toISOString(),
          at,
        },
      ];
    }
    if (!worker) {
      worker = { online: false, freq, maxActive: 0 };
      this.workers.set(hostname, worker);
    }
    const fresh = !worker.online || event.type === 'worker-online';
    worker.online = true;
    this.options.observer?.onWorkerSeen?.(hostname, fresh);
    if (event.type === 'worker-heartbeat' && worker.lastHeartbeat !== undefined) {
      const missed = Math.round((at - worker.lastHeartbeat) / (freq * 1000)) - 1;
      if (missed > 0) this.options.observer?.onHeartbeatsMissed?.(missed);
    }
    worker.lastHeartbeat = at;
    worker.freq = freq;
    const active = event.active ?? 0;
    worker.maxActive = Math.max(worker.maxActive, active);
    return [
      {
        id: celeryEventId(hostname, event.type, event.timestamp),
        name: 'worker:heartbeat',
        payload: {
          worker_id: hostname,
          hostname,
          queues: worker.info?.queues ?? [],
          active_jobs: active,
          concurrency: worker.info?.concurrency ?? Math.max(1, worker.maxActive),
          ttl_s: Math.min(86_400, Math.max(1, Math.ceil(freq * HEARTBEAT_TTL_PERIODS))),
        },
        occurredAt: new Date(at).toISOString(),
        at,
      },
    ];
  }

  // --- time and clocks ---------------------------------------------------------------------

  /**
   * Celery's `timestamp` is `time.time()`: epoch seconds, UTC whatever the sender's zone.
   * `utcoffset` only names that zone; Celery's own receiver shifts by it to show times in the
   * receiver's local zone (`adjust_timestamp`), which an ISO UTC time must not do.
   */
  private timeOf(timestamp: number): number {
    const ms = Math.round(timestamp * 1000);
    const now = this.now();
    if (ms > now + MAX_AHEAD_MS) {
      this.options.observer?.onClockAhead?.();
      return now;
    }
    return ms;
  }

  private trackClock(event: CeleryEvent): void {
    if (event.clock === undefined) return;
    const sender = `${event.hostname}\u0000${event.pid ?? ''}`;
    const last = this.clocks.get(sender);
    this.clocks.set(sender, event.clock);
    if (last !== undefined && event.clock > last + 1) this.options.observer?.onClockSkipped?.(event.clock - last - 1);
    if (this.clocks.size > 10_000) this.clocks.delete(this.clocks.keys().next().value!);
  }
}

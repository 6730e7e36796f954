import type { EventName, JobCancelledPayload, JobPayload } from '@agentos/contracts';
import { entryTime, isOpaqueId, ssotJobId } from './ids';

/**
 * BullMQ's event stream → SSOT events, as pure functions: what one stream entry says about a
 * job, given what the bridge knew of the job before it, becomes at most one SSOT event and the
 * job's new state. The reader (stream-reader.ts) fetches the job facts the entry needs, keeps the
 * states, and posts the events.
 *
 * | BullMQ entry | SSOT event |
 * |---|---|
 * | `added` | `job:created` (attempt 1) |
 * | `waiting`, `delayed`, `waiting-children` after a run (retry, backoff, stalled worker, `job.retry()`) | `job:created` with the next attempt: the job restarts |
 * | `waiting`, `delayed`, `waiting-children` of a job not yet run | nothing: `added` said it |
 * | `active` | `job:processing` (with the worker's name, when the worker has one) |
 * | `progress` (a number) | `job:processing` with `progress` |
 * | `completed` | `job:completed` with `duration_ms` |
 * | `failed` (final: BullMQ retries are `waiting`/`delayed`) | `job:failed` with the reason and `duration_ms` |
 * | `removed` of a waiting, delayed or active job | `job:cancelled` |
 * | `removed` of a finished job, `stalled`, `retries-exhausted`, `drained`, … | nothing |
 *
 * Attempts. BullMQ's entries do not say which run they are about, and the job's hash, read when
 * the entry is, may already describe a later run. So the bridge counts runs itself, from the
 * entries in order: a job is on attempt 1 when added, and each time it goes back to waiting or
 * delayed after a run, the next attempt begins. The SSOT's `attempts` is therefore the number of
 * runs BullMQ started, which is BullMQ's `attemptsMade` except that a run lost to a stalled
 * worker (or a processor's own `moveToDelayed`/rate-limit requeue) counts too.
 */

/** Where a job is, as far as the entries read so far say. */
export type Phase = 'waiting' | 'active' | 'finished';

/** What the bridge keeps about a job between entries (stored per queue, saved with the read position). */
export interface JobState {
  /** The run the job is on, from 1. */
  attempt: number;
  phase: Phase;
  /** BullMQ's job `name`. */
  type: string;
  user_id?: string;
  agent?: string;
  /** When the current run started (its `active` entry), ms: the duration when the hash no longer tells it. */
  activeAt?: number;
}

/** What the job's hash in BullMQ said when the entry was read; null when the job is gone. */
export interface JobFacts {
  name?: string;
  /** The job's data, as BullMQ stores it (JSON). */
  data?: string;
  /** Runs BullMQ had counted before the job's first entry being mapped (the reader works it out). */
  attemptsMade?: number;
  /** `pb`: the name of the worker that took it (named workers only). */
  processedBy?: string;
  processedOn?: number;
  finishedOn?: number;
}

/** One entry of a queue's event stream: its id and its fields (`event`, `jobId`, …). */
export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

/** Which of the job's hash fields an entry needs: none, the run's (worker, times), or all (an unknown job). */
export type FactsNeeded = 'none' | 'run' | 'all';

export interface MapOptions {
  queue: string;
  /** Path of the data field holding the user id. */
  userIdField: readonly string[];
  /** Path of the data field holding the agent. */
  agentField: readonly string[];
}

export type SsotJobEvent =
  | { name: Exclude<Extract<EventName, `job:${string}`>, 'job:cancelled'>; payload: JobPayload }
  | { name: 'job:cancelled'; payload: JobCancelledPayload };

export interface Mapped {
  event: SsotJobEvent | null;
  /** The job's state after the entry: unchanged when undefined, forgotten when null. */
  state: JobState | null | undefined;
  /** Why an entry that says something about a job gave no event. */
  dropped?: 'invalid_job_id';
}

const REQUEUED = new Set(['waiting', 'delayed', 'waiting-children']);
const JOB_ENTRIES = new Set([...REQUEUED, 'added', 'active', 'progress', 'completed', 'failed', 'removed']);
const MAX_TEXT = { type: 200, agent: 200, error: 10_000, reason: 1000 };

/** The hash fields to read before mapping `entry`, given whether the job's state is known. */
export function factsNeeded(entry: StreamEntry, known: boolean): FactsNeeded {
  const event = entry.fields.event ?? '';
  if (!JOB_ENTRIES.has(event) || entry.fields.jobId === undefined) return 'none';
  if (event === 'added' || !known) return event === 'removed' ? 'none' : 'all';
  return event === 'active' || event === 'completed' || event === 'failed' ? 'run' : 'none';
}

/** Maps one entry; `state` is the job's state before it (undefined: never seen), `facts` its hash now. */
export function mapEntry(entry: StreamEntry, state: JobState | undefined, facts: JobFacts | null, options: MapOptions): Mapped {
  const event = entry.fields.event ?? '';
  const jobId = entry.fields.jobId;
  if (jobId === undefined || !JOB_ENTRIES.has(event)) return { event: null, state: undefined };
  const at = entryTime(entry.id);
  const made = facts?.attemptsMade ?? 0;
  const known = state ?? describe(facts, options);

  let next: JobState | null | undefined;
  let emit: { name: SsotJobEvent['name']; extra: Partial<JobCancelledPayload> } | null = null;
  switch (event) {
    case 'added': {
      // A custom job id used again after its job was removed: a new run of the same SSOT job.
      next = { ...describe(facts, options, entry.fields.name), attempt: state ? state.attempt + 1 : 1, phase: 'waiting' };
      emit = { name: 'job:created', extra: {} };
      break;
    }
    case 'waiting':
    case 'delayed':
    case 'waiting-children': {
      if (!state) {
        next = { ...known, attempt: made + 1, phase: 'waiting' };
        emit = { name: 'job:created', extra: {} };
      } else if (state.phase !== 'waiting') {
        next = { ...stripRun(state), attempt: state.attempt + 1, phase: 'waiting' };
        emit = { name: 'job:created', extra: {} };
      }
      break;
    }
    case 'active': {
      const attempt = !state ? made + 1 : state.phase === 'finished' ? state.attempt + 1 : state.attempt;
      next = { ...known, attempt, phase: 'active', activeAt: at };
      emit = { name: 'job:processing', extra: worker(facts) };
      break;
    }
    case 'progress': {
      if (state && state.phase !== 'active') break;
      if (!state) next = { ...known, attempt: made + 1, phase: 'active' };
      const progress = progressOf(entry.fields.data);
      emit = { name: 'job:processing', extra: progress === undefined ? {} : { progress } };
      break;
    }
    case 'completed':
    case 'failed': {
      const attempt = state ? state.attempt : made + 1;
      next = { ...stripRun(known), attempt, phase: 'finished' };
      const duration = durationOf(facts, state?.activeAt, at);
      emit = {
        name: event === 'completed' ? 'job:completed' : 'job:failed',
        extra: {
          ...worker(facts),
          ...(duration === undefined ? {} : { duration_ms: duration }),
          ...(event === 'failed' ? { error: clip(entry.fields.failedReason || 'failed', MAX_TEXT.error) } : {}),
        },
      };
      break;
    }
    case 'removed': {
      next = null;
      // A finished job removed (by hand or a clean) keeps its history in the SSOT: it ran.
      if (state?.phase !== 'finished') {
        const was = entry.fields.prev;
        emit = { name: 'job:cancelled', extra: { reason: clip(`removed from BullMQ${was ? ` while ${was}` : ''}`, MAX_TEXT.reason) } };
      }
      break;
    }
  }
  if (!emit) return { event: null, state: next };

  const job_id = ssotJobId(options.queue, jobId);
  if (!isOpaqueId(job_id)) return { event: null, state: next, dropped: 'invalid_job_id' };
  const about = next ?? state ?? known;
  const payload: JobCancelledPayload = {
    job_id,
    queue: options.queue,
    type: about.type,
    ...(about.user_id === undefined ? {} : { user_id: about.user_id }),
    ...(about.agent === undefined ? {} : { agent: about.agent }),
    // A removed job the bridge never saw run: which attempt it was on is unknown.
    ...(next === null && !state ? {} : { attempt: about.attempt }),
    ...emit.extra,
  };
  return { event: { name: emit.name, payload } as SsotJobEvent, state: next };
}

/** A job's identity from its hash (or the `added` entry's name): type, user and agent. */
function describe(facts: JobFacts | null, options: MapOptions, name?: string): JobState {
  const data = parseData(facts?.data);
  const user = scalarAt(data, options.userIdField);
  const agent = scalarAt(data, options.agentField);
  return {
    attempt: 1,
    phase: 'waiting',
    type: clip(name || facts?.name || 'unknown', MAX_TEXT.type),
    ...(user !== undefined && isOpaqueId(user) ? { user_id: user } : {}),
    ...(agent !== undefined && agent.length > 0 ? { agent: clip(agent, MAX_TEXT.agent) } : {}),
  };
}

function stripRun(state: JobState): JobState {
  const { activeAt: _, ...rest } = state;
  return rest;
}

function worker(facts: JobFacts | null): { worker_id?: string } {
  const name = facts?.processedBy;
  return name !== undefined && isOpaqueId(name) ? { worker_id: name } : {};
}

/**
 * The run's duration: BullMQ's own `finishedOn - processedOn` while the hash still describes this
 * run, else the time between the run's `active` entry and this one.
 */
function durationOf(facts: JobFacts | null, activeAt: number | undefined, at: number): number | undefined {
  const { processedOn, finishedOn } = facts ?? {};
  if (processedOn !== undefined && finishedOn !== undefined && finishedOn >= processedOn) return finishedOn - processedOn;
  if (activeAt !== undefined && at >= activeAt) return at - activeAt;
  return undefined;
}

/** BullMQ progress is any JSON; only a number is a percentage. */
function progressOf(data: string | undefined): number | undefined {
  if (data === undefined) return undefined;
  const value = Number(data);
  if (data.trim() === '' || !Number.isFinite(value)) return undefined;
  return Math.min(100, Math.max(0, value));
}

function parseData(data: string | undefined): unknown {
  if (data === undefined) return undefined;
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

/** The string or number at `path` in `data`, as a string. */
function scalarAt(data: unknown, path: readonly string[]): string | undefined {
  let value = data;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max);
}

/** A state as stored (compact JSON). */
export function encodeState(state: JobState): string {
  return JSON.stringify([state.attempt, state.phase[0], state.type, state.user_id ?? null, state.agent ?? null, state.activeAt ?? null]);
}

const PHASES: Record<string, Phase> = { w: 'waiting', a: 'active', f: 'finished' };

/** A stored state, or undefined when it does not parse (it is then treated as never seen). */
export function decodeState(text: string | null | undefined): JobState | undefined {
  if (!text) return undefined;
  try {
    const [attempt, phase, type, user, agent, activeAt] = JSON.parse(text) as unknown[];
    if (typeof attempt !== 'number' || typeof phase !== 'string' || !PHASES[phase] || typeof type !== 'string') return undefined;
    return {
      attempt,
      phase: PHASES[phase]!,
      type,
      ...(typeof user === 'string' ? { user_id: user } : {}),
      ...(typeof agent === 'string' ? { agent } : {}),
      ...(typeof activeAt === 'number' ? { activeAt } : {}),
    };
  } catch {
    return undefined;
  }
}

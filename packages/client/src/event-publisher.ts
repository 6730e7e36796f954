import {
  type EventName,
  type EventPayload,
  type IngestProblem,
  type IngestResult,
  MAX_EVENTS_PER_BATCH,
  MAX_INGEST_BYTES,
} from '@agentos/contracts';
import { parseRetryAfter } from './backoff';
import { IngestError, PublisherClosedError, PublisherQueueFullError } from './errors';

export interface EventPublisherOptions {
  /** Where the api answers, e.g. `https://ssot.example.com`; a path prefix is kept. */
  baseUrl: string;
  /** An ingest token: one of the api's `INGEST_TOKENS` (a user or admin JWT is not one). */
  token: string;
  /** Most events in one request, 1 … 500 (`MAX_EVENTS_PER_BATCH`). Requests also stay under 1 MiB. @default 100 */
  batchSize?: number;
  /** Longest time a published event waits for others to share its request. @default 20 */
  flushIntervalMs?: number;
  /**
   * Retries of one request after a network error, a timeout, 408, 429 or 5xx; past them its
   * events' promises reject. 400, 401, 403, 404 and 413 are never retried. @default 6
   */
  maxRetries?: number;
  /**
   * Delay before the first retry; it doubles with each retry (at most 30 s), with jitter: a
   * delay d becomes a random wait between d/2 and d. A `Retry-After` answer (429, 503) is waited
   * out when longer (at most 60 s). @default 100
   */
  retryBaseMs?: number;
  /** Longest wait for one answer; past it the attempt counts as a network error. @default 10000 */
  requestTimeoutMs?: number;
  /** The fetch to use (tests, instrumented or proxied fetches). @default globalThis.fetch */
  fetch?: typeof fetch;
  /**
   * Most events waiting to be sent (the request under way not counted). Past it, `publish`
   * rejects at once with PublisherQueueFullError instead of holding memory without bound while
   * the api is away or slower than the platform. @default 10000
   */
  maxQueuedEvents?: number;
  /** Most bytes of event JSON waiting to be sent, as for `maxQueuedEvents`. @default 64 MiB */
  maxQueuedBytes?: number;
  /**
   * The platform these events come from (`celery`, `bullmq`, your own name): where the commands
   * of its jobs go (CONTRACT §8). @default none: the api records `api`
   */
  source?: string;
}

export interface PublishOptions {
  /**
   * The event's id, its idempotency key: any id of 1–200 characters without whitespace (CONTRACT
   * §5). A bridge derives it from what the platform said, so posting the same thing twice is
   * harmless. @default a new UUID v4
   */
  id?: string;
  /** When it happened. @default the time of `publish` */
  occurredAt?: Date | string;
  /** Overrides the publisher's `source` for this event. */
  source?: string;
}

interface Pending {
  id: string;
  /** The event's JSON, serialised once at publish. */
  json: string;
  bytes: number;
  resolve(id: string): void;
  reject(error: Error): void;
}

/** Bytes of `{"events":[` … `]}` around the events. */
const ENVELOPE_BYTES = '{"events":[]}'.length;
const MAX_BACKOFF_MS = 30_000;
const MAX_RETRY_AFTER_MS = 60_000;
const encoder = new TextEncoder();

/**
 * Publishes job-platform events to the SSOT api (`POST /api/events`), for browsers and Node 20.
 *
 * Each event gets its id when published, so a request that is retried — after a network error,
 * a 429 or a 5xx, with exponential backoff and jitter — cannot be counted twice: the api keeps
 * one copy per id. Events are batched (up to `batchSize`, at most `flushIntervalMs` of waiting)
 * and sent one request at a time, in the order published, so they reach the stream in order.
 *
 * `publish` resolves with the id once the api has the event (new or already known), and rejects
 * with an IngestError when it refuses it or retries run out. An invalid event is refused alone:
 * the others of its request are sent again without it. Await or catch every `publish`.
 */
export class EventPublisher {
  private readonly url: string;
  private readonly token: string;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxRetries: number;
  private readonly retryBaseMs: number;
  private readonly requestTimeoutMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly source: string | undefined;
  private readonly maxQueuedEvents: number;
  private readonly maxQueuedBytes: number;

  private readonly queue: Pending[] = [];
  private queuedBytes = 0;
  /** How many events at the head of the queue are due now (their wait is over, or a flush asked). */
  private due = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private sending = false;
  private closed = false;
  /** Settles (never rejects) once each published event has been answered, either way. */
  private readonly unsettled = new Set<Promise<void>>();

  constructor(options: EventPublisherOptions) {
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/api/events`;
    this.token = options.token;
    this.batchSize = options.batchSize ?? 100;
    this.flushIntervalMs = options.flushIntervalMs ?? 20;
    this.maxRetries = options.maxRetries ?? 6;
    this.retryBaseMs = options.retryBaseMs ?? 100;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.source = options.source;
    this.maxQueuedEvents = options.maxQueuedEvents ?? 10_000;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 64 * 1024 * 1024;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1 || this.batchSize > MAX_EVENTS_PER_BATCH) {
      throw new RangeError(`batchSize must be an integer from 1 to ${MAX_EVENTS_PER_BATCH}`);
    }
    for (const [name, value] of Object.entries({ flushIntervalMs: this.flushIntervalMs, maxRetries: this.maxRetries, retryBaseMs: this.retryBaseMs })) {
      if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a number ≥ 0`);
    }
    for (const [name, value] of Object.entries({ maxQueuedEvents: this.maxQueuedEvents, maxQueuedBytes: this.maxQueuedBytes })) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be an integer ≥ 1`);
    }
    if (!options.fetch && typeof globalThis.fetch !== 'function') throw new TypeError('no global fetch here: pass options.fetch');
  }

  /** Queues one event; resolves with its id once the api has it. */
  publish<N extends EventName>(name: N, payload: EventPayload<N>, options: PublishOptions = {}): Promise<string> {
    if (this.closed) return Promise.reject(new PublisherClosedError());
    const id = options.id ?? randomUuid();
    const occurredAt = options.occurredAt ?? new Date();
    const source = options.source ?? this.source;
    const json = JSON.stringify({
      id,
      name,
      payload,
      occurred_at: occurredAt instanceof Date ? occurredAt.toISOString() : occurredAt,
      ...(source === undefined ? {} : { source }),
    });
    const bytes = encoder.encode(json).length;
    if (bytes + ENVELOPE_BYTES > MAX_INGEST_BYTES) {
      return Promise.reject(new IngestError(`event ${id} is over ${MAX_INGEST_BYTES} bytes as JSON; it was not sent`, 413, 'payload_too_large', [], 0));
    }
    if (this.queue.length >= this.maxQueuedEvents || this.queuedBytes + bytes + 1 > this.maxQueuedBytes) {
      return Promise.reject(new PublisherQueueFullError(this.queue.length, this.queuedBytes));
    }
    let settled!: () => void;
    const done = new Promise<void>((resolve) => (settled = resolve));
    this.unsettled.add(done);
    const finish = () => {
      this.unsettled.delete(done);
      settled();
    };
    const promise = new Promise<string>((resolve, reject) => {
      this.queue.push({
        id,
        json,
        bytes,
        resolve: (value) => {
          resolve(value);
          finish();
        },
        reject: (error) => {
          reject(error);
          finish();
        },
      });
    });
    this.queuedBytes += bytes + 1;
    this.pump();
    return promise;
  }

  /** Sends everything published so far without waiting; resolves once all of it is answered (either way). */
  async flush(): Promise<void> {
    this.due = this.queue.length;
    this.pump();
    await Promise.all([...this.unsettled]);
  }

  /** Refuses new events, then flushes what was published. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * Starts the next request if none is under way and a batch is ready, and makes sure events
   * that are not due yet become due within `flushIntervalMs`.
   */
  private pump(): void {
    if (!this.sending) {
      const batch = this.takeBatch();
      if (batch) {
        this.sending = true;
        void this.send(batch).finally(() => {
          this.sending = false;
          this.pump();
        });
      }
    }
    if (this.queue.length > this.due && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.due = this.queue.length;
        this.pump();
      }, this.flushIntervalMs);
    }
  }

  private takeBatch(): Pending[] | null {
    const full = this.queue.length >= this.batchSize || this.queuedBytes + ENVELOPE_BYTES > MAX_INGEST_BYTES;
    if (this.queue.length === 0 || (!full && this.due === 0)) return null;
    let bytes = ENVELOPE_BYTES;
    let count = 0;
    for (const item of this.queue) {
      // At least one: publish() let through no event that is too large alone.
      if (count > 0 && (count === this.batchSize || bytes + item.bytes + 1 > MAX_INGEST_BYTES)) break;
      bytes += item.bytes + 1;
      count += 1;
    }
    const batch = this.queue.splice(0, count);
    this.queuedBytes -= bytes - ENVELOPE_BYTES;
    this.due = Math.max(0, this.due - count);
    return batch;
  }

  /** One batch until it is answered: settles every event of it, never throws. */
  private async send(batch: Pending[]): Promise<void> {
    const body = `{"events":[${batch.map((item) => item.json).join(',')}]}`;
    for (let attempt = 1; ; attempt += 1) {
      let error: IngestError;
      let retryAfterMs = 0;
      try {
        // Called unbound: a browser's fetch throws "Illegal invocation" when called as our method.
        const fetchFn = this.fetchFn;
        const res = await fetchFn(this.url, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(this.requestTimeoutMs),
        });
        if (res.status === 202) {
          const result = (await res.json()) as IngestResult;
          batch.forEach((item, i) => item.resolve(result.ids?.[i] ?? item.id));
          return;
        }
        error = await errorFrom(res, attempt);
        if (!isRetryable(res.status)) return this.refuse(batch, error);
        retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      } catch (cause) {
        error = new IngestError(`no answer from ${this.url}: ${(cause as Error)?.message ?? String(cause)}`, 0, 'network_error', [], attempt, { cause });
      }
      if (attempt > this.maxRetries) {
        for (const item of batch) item.reject(error);
        return;
      }
      await delay(Math.max(this.backoff(attempt), Math.min(retryAfterMs, MAX_RETRY_AFTER_MS)));
    }
  }

  /**
   * A final refusal. For a 400 naming the events at fault, only those are refused; the others go
   * back to the head of the queue and leave again at once in a request of their own.
   */
  private refuse(batch: Pending[], error: IngestError): void {
    const byIndex = new Map<number, IngestProblem[]>();
    for (const problem of error.status === 400 ? error.problems : []) {
      if (!Number.isInteger(problem.index) || problem.index < 0 || problem.index >= batch.length) {
        byIndex.clear();
        break;
      }
      byIndex.set(problem.index, [...(byIndex.get(problem.index) ?? []), problem]);
    }
    if (byIndex.size === 0) {
      for (const item of batch) item.reject(error);
      return;
    }
    const again: Pending[] = [];
    batch.forEach((item, index) => {
      const problems = byIndex.get(index);
      if (!problems) {
        again.push(item);
        return;
      }
      const what = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
      item.reject(new IngestError(`event ${item.id} is invalid (${what})`, error.status, error.code, problems, error.attempts));
    });
    this.queue.unshift(...again);
    this.queuedBytes += again.reduce((sum, item) => sum + item.bytes + 1, 0);
    this.due += again.length;
  }

  private backoff(attempt: number): number {
    const ceiling = Math.min(MAX_BACKOFF_MS, this.retryBaseMs * 2 ** (attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }
}

function isRetryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** The api's `{error: {code, message, details?}}`, or what can be said of another answer (a proxy's 502 page). */
async function errorFrom(res: Response, attempt: number): Promise<IngestError> {
  const text = await res.text().catch(() => '');
  try {
    const { error } = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    if (error && typeof error.code === 'string') {
      const problems = Array.isArray(error.details) ? (error.details as IngestProblem[]) : [];
      return new IngestError(String(error.message ?? error.code), res.status, error.code, problems, attempt);
    }
  } catch {
    /* not the api's JSON */
  }
  return new IngestError(`HTTP ${res.status} ${res.statusText}`.trim(), res.status, `http_${res.status}`, [], attempt);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A UUID v4. `crypto.randomUUID` exists only in secure contexts in browsers; getRandomValues everywhere. */
function randomUuid(): string {
  if (typeof globalThis.crypto.randomUUID === 'function') return globalThis.crypto.randomUUID();
  const b = globalThis.crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

import type { IngestProblem } from '@agentos/contracts';

/**
 * Events the api did not take, with why: the HTTP `status` (0 when no answer came), the stable
 * `code` of the api's error (`invalid_request`, `unauthorized`, `payload_too_large`,
 * `rate_limited`, …, or `network_error`), and for `invalid_request` the `problems` of this event.
 */
export class IngestError extends Error {
  override readonly name = 'IngestError';

  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    /** For a refused event: its problems, as the api listed them (`index` is its position in the request that carried it). */
    readonly problems: readonly IngestProblem[] = [],
    /** Requests made for these events before giving up. */
    readonly attempts = 1,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** `publish` after `close()`. */
export class PublisherClosedError extends Error {
  override readonly name = 'PublisherClosedError';
  readonly code = 'publisher_closed';

  constructor() {
    super('the event publisher is closed');
  }
}

/**
 * `publish` while `maxQueuedEvents` events (or `maxQueuedBytes` bytes) already wait to be sent:
 * the api is away or slower than the events come. The event was not queued; the caller decides
 * whether to drop it, wait (`flush()`) and try again, or slow its producer.
 */
export class PublisherQueueFullError extends Error {
  override readonly name = 'PublisherQueueFullError';
  readonly code = 'queue_full';

  constructor(
    readonly queuedEvents: number,
    readonly queuedBytes: number,
  ) {
    super(`the event publisher's queue is full (${queuedEvents} events, ${queuedBytes} bytes wait for the api); the event was not queued`);
  }
}

/**
 * Stable codes of a failed snapshot read: `network_error` (no answer), `timeout`, `token_error`
 * (the token function threw), `unauthorized` (401), `forbidden` (403), `unavailable` (503: no
 * snapshot has been built yet, `retryAfterMs` says when to ask again), `http_error` (any other
 * status), `bad_response` (a 200 that holds no snapshot).
 */
export type SnapshotReadErrorCode =
  | 'network_error'
  | 'timeout'
  | 'token_error'
  | 'unauthorized'
  | 'forbidden'
  | 'unavailable'
  | 'http_error'
  | 'bad_response';

/** `GET /api/admin/ssot` did not give a snapshot: the HTTP `status` (0 when no answer came) and why. */
export class SnapshotReadError extends Error {
  override readonly name = 'SnapshotReadError';

  constructor(
    message: string,
    readonly code: SnapshotReadErrorCode,
    readonly status: number,
    /** From `Retry-After` (503), in ms; 0 without one. */
    readonly retryAfterMs = 0,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/**
 * Stable codes of a realtime connection problem: `unauthorized` (the gateway refused the token),
 * `token_error` (the token function threw), `connect_failed` (no connection: refused, timed out,
 * no transport got through), `disconnected` (an open connection ended; `reason` is socket.io's),
 * `resync_failed` (the gateway did not answer a `resync`, or refused it).
 */
export type RealtimeErrorCode = 'unauthorized' | 'token_error' | 'connect_failed' | 'disconnected' | 'resync_failed';

/** Why the realtime connection is not live, and at which gateway. */
export class RealtimeError extends Error {
  override readonly name = 'RealtimeError';

  constructor(
    message: string,
    readonly code: RealtimeErrorCode,
    /** The gateway URL of the attempt. */
    readonly gateway: string,
    /** socket.io's disconnect reason (`transport close`, `io server disconnect`, …) for `disconnected`. */
    readonly reason?: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** `connect()` or `fetchAllData()` after `close()`. */
export class ServiceClosedError extends Error {
  override readonly name = 'ServiceClosedError';
  readonly code = 'service_closed';

  constructor() {
    super('the central data service is closed');
  }
}

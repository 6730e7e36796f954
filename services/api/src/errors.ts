import { SsotError } from '@agentos/runtime';

/**
 * The api's own error kinds, beside the shared ones in `@agentos/runtime`. Each has a stable
 * `code` that http-errors.ts maps to a status; `retryAfterS`, when present, becomes `Retry-After`.
 */

/** A body over `MAX_INGEST_BYTES`, or a batch over `MAX_EVENTS_PER_BATCH` events. */
export class PayloadTooLargeError extends SsotError {
  readonly code = 'payload_too_large';
}

/** The ingest token posted more events this second than `INGEST_RATE_LIMIT` allows. */
export class RateLimitedError extends SsotError {
  readonly code = 'rate_limited';
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super(message);
  }
}

/**
 * Redis could not be reached to admit or store events; nothing is lost by retrying (ids dedupe).
 * The Redis error is kept as `cause` for the log, never sent to the client.
 */
export class EventStoreUnavailableError extends SsotError {
  readonly code = 'unavailable';
  constructor(
    message: string,
    readonly retryAfterS: number,
    cause?: unknown,
  ) {
    super(message);
    this.cause = cause;
  }
}

/** A body that is not JSON by its Content-Type (or in an encoding the api does not read). */
export class UnsupportedMediaTypeError extends SsotError {
  readonly code = 'unsupported_media_type';
}

/** A request target over `MAX_URL_LENGTH`. */
export class UriTooLongError extends SsotError {
  readonly code = 'uri_too_long';
}

/** The job routes need the database, and this api was started without DATABASE_URL. */
export class JobStoreUnavailableError extends SsotError {
  readonly code = 'unavailable';
}

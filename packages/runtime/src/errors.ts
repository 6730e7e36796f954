/**
 * Errors with stable codes. The HTTP layer maps `code` to a status in one place
 * (services/api/src/http-errors.ts); everything else only throws.
 */
export abstract class SsotError extends Error {
  abstract readonly code: string;
  readonly details?: unknown;
  constructor(message: string, details?: unknown) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

/** The environment is invalid; the message names every problem. */
export class ConfigError extends SsotError {
  readonly code = 'invalid_config';
}

export class UnauthorizedError extends SsotError {
  readonly code = 'unauthorized';
}

export class ForbiddenError extends SsotError {
  readonly code = 'forbidden';
}

export class NotFoundError extends SsotError {
  readonly code = 'not_found';
}

export class ValidationError extends SsotError {
  readonly code = 'invalid_request';
}

/** No snapshot has ever been built, so there is nothing to serve yet. */
export class SnapshotUnavailableError extends SsotError {
  readonly code = 'snapshot_unavailable';
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super(message);
  }
}

export class TimeoutError extends SsotError {
  readonly code = 'timeout';
}

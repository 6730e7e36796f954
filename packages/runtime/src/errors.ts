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

/**
 * No valid credentials. The client is told only `unauthorized` (the message, with no details):
 * an answer that says why a token failed helps whoever is forging one. `reason` says why, for
 * logs.
 */
export class UnauthorizedError extends SsotError {
  readonly code = 'unauthorized';
  constructor(readonly reason: string) {
    super('unauthorized');
  }
}

/**
 * A token could not be checked: the key set (JWKS) did not answer in time or was unusable. Not
 * the token's fault, so it is not an UnauthorizedError: callers log it as a problem of ours. The
 * client is still told exactly what any refused client is told (`unauthorized`, 401 — same code):
 * it cannot act on the difference, whether our key server is reachable is none of its business,
 * and the same token is accepted again once the keys can be fetched. `reason` says what failed.
 */
export class KeySetUnavailableError extends SsotError {
  readonly code = 'unauthorized';
  constructor(readonly reason: string) {
    super('unauthorized');
  }
}

export class ForbiddenError extends SsotError {
  readonly code = 'forbidden';
}

export class NotFoundError extends SsotError {
  readonly code = 'not_found';
}

/** The request is valid but the resource's state refuses it (a command its platform cannot carry out). */
export class ConflictError extends SsotError {
  readonly code = 'conflict';
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

/**
 * What an error says, in one line for a log field or a dead letter's reason, at most `max`
 * characters: its non-empty lines joined, without the line Prisma opens its messages with
 * ("Invalid `prisma.$queryRawUnsafe()` invocation:"), which says where, not what.
 */
export function errorSummary(error: unknown, max = 300): string {
  const message = error instanceof Error ? error.message : String(error);
  const lines = message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^Invalid `[^`]+` invocation/.test(line));
  return (lines.join(' ') || 'unknown error').slice(0, max);
}

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

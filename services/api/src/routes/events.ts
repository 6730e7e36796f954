import type { IncomingMessage, ServerResponse } from 'node:http';
import { MAX_INGEST_BYTES } from '@agentos/contracts';
import { type Logger, parseUntrustedJson, SsotError, ValidationError } from '@agentos/runtime';
import express, { Router } from 'express';
import type { FailRequest } from '../app';
import { EventStoreUnavailableError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../errors';
import type { EventIngest } from '../event-ingest';
import { validateEvents } from '../event-validation';
import type { IngestTokens } from '../ingest-tokens';
import type { ApiMetrics, RefusalReason } from '../metrics';
import type { RequestTarget } from '../request-target';

export interface EventsRouteDeps {
  tokens: IngestTokens;
  ingest: EventIngest;
  metrics: ApiMetrics;
  logger: Pick<Logger, 'warn'>;
  fail: FailRequest;
}

const REASON_BY_CODE: Record<string, RefusalReason> = {
  unauthorized: 'unauthorized',
  invalid_request: 'invalid',
  unsupported_media_type: 'invalid',
  payload_too_large: 'too_large',
  rate_limited: 'rate_limited',
};

/**
 * `POST /api/events` (CONTRACT §4–5). The checks run cheapest first, and nothing reaches Redis
 * until the whole batch has passed them: the token (before a byte of the body is read), the body
 * (JSON, at most `MAX_INGEST_BYTES`, at most `MAX_EVENTS_PER_BATCH` events, every event valid),
 * the token's rate limit (counted in events, refused batches cost nothing) and the idempotent
 * enqueue of the batch, together in one Redis script.
 *
 * Served on the bare node:http request, ahead of express, when the path is spelled as in the
 * contract (`handle`): this is the ingest hot path, and express's router and request setup cost
 * 0.4 ms of CPU per POST here, as much as the rest of a batch of 10 events (BENCHMARKS.md,
 * 2026-12-07 eighth session). Other spellings express still routes (`router`, case-insensitive,
 * a trailing slash) to the same handler.
 */
export function eventsRoute(deps: EventsRouteDeps): { handle: (req: IncomingMessage, res: ServerResponse, target: RequestTarget) => boolean; router: Router } {
  // Decompresses gzip/deflate/br bodies; the limit applies to the decompressed bytes. Works on a
  // bare request: it sets `req.body`.
  const readRaw = express.raw({ type: () => true, limit: MAX_INGEST_BYTES });

  const post = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const tokenId = deps.tokens.authenticate(req.headers.authorization);
      const events = validateEvents(await readJson(req, res));
      const { result, enqueued } = await deps.ingest.ingest(tokenId, events);
      for (const event of enqueued) deps.metrics.eventsAccepted.inc({ name: event.name });
      if (result.duplicates > 0) deps.metrics.eventsDuplicates.inc(result.duplicates);
      const body = JSON.stringify(result);
      res.writeHead(202, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    } catch (error) {
      const reason = error instanceof SsotError ? REASON_BY_CODE[error.code] : undefined;
      if (reason) deps.metrics.eventsRefused.inc({ reason });
      if (error instanceof EventStoreUnavailableError) deps.logger.warn({ err: error.cause }, error.message);
      deps.fail(req, res, error);
    }
  };

  const router = Router();
  router.post('/api/events', (req, res) => post(req, res));
  return {
    handle(req, res, target) {
      if (req.method !== 'POST' || target.path !== '/api/events') return false;
      post(req, res).catch((error: unknown) => deps.fail(req, res, error));
      return true;
    },
    router,
  };

  async function readJson(req: IncomingMessage & { body?: unknown }, res: ServerResponse): Promise<unknown> {
    const type = req.headers['content-type'];
    if (type !== undefined && !/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type)) {
      throw new UnsupportedMediaTypeError(`request body must be JSON (Content-Type: application/json), not ${clip(type.split(';', 1)[0]!)}`);
    }
    try {
      await new Promise<void>((resolve, reject) => readRaw(req as express.Request, res as express.Response, (err?: unknown) => (err ? reject(err) : resolve())));
    } catch (error) {
      const { status, type: kind } = error as { status?: number; type?: string };
      if (status === 413 || kind === 'entity.too.large') throw new PayloadTooLargeError(`request body over ${MAX_INGEST_BYTES} bytes (1 MiB)`);
      if (status === 415) throw new UnsupportedMediaTypeError('unsupported Content-Encoding: use gzip, deflate, br or none');
      if (status !== undefined && status >= 400 && status < 500) throw new ValidationError(`request body could not be read: ${(error as Error).message}`);
      throw error;
    }
    // Not JSON, too deep, a prototype key anywhere, a number out of range: 400 naming where.
    return parseUntrustedJson(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
  }
}

/** Echoes at most a little of what the client sent. */
function clip(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

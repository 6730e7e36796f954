import type { RequestListener } from 'node:http';
import express from 'express';
import type { healthHandler, Logger, TokenVerifier } from '@agentos/runtime';
import type { EventIngest } from './event-ingest';
import { errorHandler, sendError } from './http-errors';
import type { IngestTokens } from './ingest-tokens';
import type { ApiMetrics } from './metrics';
import { eventsRouter } from './routes/events';
import { ssotHandler } from './routes/ssot';
import type { SnapshotStore } from './snapshot-store';

export interface AppDeps {
  store: SnapshotStore;
  verifier: TokenVerifier;
  metrics: ApiMetrics;
  /** `/healthz`, `/readyz`, `/metrics`. */
  health: ReturnType<typeof healthHandler>;
  /** Unexpected errors (answered 500) go here. */
  log: (error: unknown) => void;
  /** `POST /api/events`: who may post, and where events go. */
  events: { tokens: IngestTokens; ingest: EventIngest; logger: Pick<Logger, 'warn' | 'error'> };
}

/**
 * The api's HTTP surface as one request listener: the snapshot reads on the bare request (the
 * hot path), everything else through express. No I/O of its own: it all comes in through `deps`.
 */
export function createApp(deps: AppDeps): RequestListener {
  const ssot = ssotHandler(deps);
  const rest = express();
  rest.disable('x-powered-by');
  rest.set('etag', false);
  rest.use((req, res, next) => {
    deps.health(req, res).then((handled) => {
      if (!handled) next();
    }, next);
  });
  rest.use(eventsRouter({ ...deps.events, metrics: deps.metrics }));
  rest.use((_req, res) => sendError(res, 404, 'not_found', 'no such route'));
  rest.use(errorHandler(deps.log));

  return (req, res) => {
    if (!ssot(req, res)) rest(req, res);
  };
}

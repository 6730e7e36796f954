import express, { type Express } from 'express';
import type { healthHandler, TokenVerifier } from '@agentos/runtime';
import { errorHandler, sendError } from './http-errors';
import type { ApiMetrics } from './metrics';
import { ssotRouter } from './routes/ssot';
import type { SnapshotStore } from './snapshot-store';

export interface AppDeps {
  store: SnapshotStore;
  verifier: TokenVerifier;
  metrics: ApiMetrics;
  /** `/healthz`, `/readyz`, `/metrics`. */
  health: ReturnType<typeof healthHandler>;
}

/** The api's HTTP surface. No I/O of its own: everything comes in through `deps`. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req, res, next) => {
    deps.health(req, res).then((handled) => {
      if (!handled) next();
    }, next);
  });
  app.use(ssotRouter(deps));
  app.use((_req, res) => sendError(res, 404, 'not_found', 'no such route'));
  app.use(errorHandler);
  return app;
}

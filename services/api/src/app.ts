import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler } from 'express';
import { type healthHandler, KeySetUnavailableError, type Logger, type TokenVerifier, UnauthorizedError } from '@agentos/runtime';
import type { BulkCommands } from './bulk-commands';
import type { EventIngest } from './event-ingest';
import { sendError, sendThrown } from './http-errors';
import type { IngestTokens } from './ingest-tokens';
import type { JobService } from './jobs';
import type { ApiMetrics } from './metrics';
import { corsGuard, requestIdOf, securityHeaders } from './request-guard';
import { parseRequestTarget } from './request-target';
import { eventsRoute } from './routes/events';
import { jobsRouter } from './routes/jobs';
import { openApiRouter } from './routes/openapi';
import { SSOT_ROUTES, ssotHandler } from './routes/ssot';
import type { SnapshotStore } from './snapshot-store';

export interface AppDeps {
  store: SnapshotStore;
  verifier: TokenVerifier;
  metrics: ApiMetrics;
  /** `/healthz`, `/readyz`, `/metrics`. */
  health: ReturnType<typeof healthHandler>;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** `POST /api/events`: who may post, and where events go. */
  events: { tokens: IngestTokens; ingest: EventIngest };
  /** The job routes' service; absent without a database (they answer 503). */
  jobs?: JobService;
  /** The bulk commands; absent without a database (their routes answer 503). */
  bulk?: BulkCommands;
  /** Browser origins granted CORS (`CORS_ORIGINS`); none: same origin only. @default [] */
  corsOrigins?: readonly string[];
  /** The api's version, in the OpenAPI document. @default '0.0.0' */
  version?: string;
  /**
   * The dashboard's static files (`@agentos/dashboard`'s serve.cjs): answers GET/HEAD of its own
   * paths (`/`, the views, `/assets/*`, `/config.json`) with its own CSP, and returns false for
   * everything else, which goes on to the api's routes. @default none: `/` is a 404
   */
  dashboard?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

/** The api as a request listener, with the routes it serves (`METHOD /path`, `{param}` templates). */
export type ApiApp = RequestListener & { readonly routes: readonly string[] };

/** The health routes: answered by `deps.health`, for GET (and HEAD) only. */
const HEALTH_ROUTES = ['GET /healthz', 'GET /readyz', 'GET /metrics'];

/** How a route answers an error: in the contract's format, logged by kind (see `createApp`). */
export type FailRequest = (req: IncomingMessage, res: ServerResponse, error: unknown) => void;

const REQUEST_ID = Symbol('requestId');
type Tagged = IncomingMessage & { [REQUEST_ID]?: string };

/**
 * The api's HTTP surface as one request listener: the snapshot reads and the event ingest on the
 * bare request (the hot paths), everything else through express. No I/O of its own: it all comes
 * in through `deps`.
 *
 * Every request first passes the same door, whatever its route: a request id, the security
 * headers, the request target decoded and checked (a malformed percent-escape is a 400 here, not
 * an exception in a route), CORS. Past the door, whatever a handler throws is answered for that
 * request alone: a 4xx in the contract's format, or a 500 that is logged with the request id.
 */
export function createApp(deps: AppDeps): ApiApp {
  const headers = Object.entries(securityHeaders());
  const cors = corsGuard(deps.corsOrigins ?? []);
  const refusals = refusalLog(deps.logger);

  const fail: FailRequest = (req, res, error) => {
    const requestId = (req as Tagged)[REQUEST_ID];
    if (error instanceof UnauthorizedError) refusals(requestId, error.reason);
    // Not the token's fault: ours to look at, every time.
    else if (error instanceof KeySetUnavailableError) deps.logger.warn({ requestId, reason: error.reason }, 'token could not be checked');
    sendThrown(res, error, (err) => deps.logger.error({ err, requestId, method: req.method, url: clip(req.url) }, 'request failed'));
  };

  const ssot = ssotHandler({ ...deps, fail });
  const events = eventsRoute({ ...deps.events, metrics: deps.metrics, logger: deps.logger, fail });
  const rest = express();
  rest.disable('x-powered-by');
  rest.set('etag', false);
  rest.use((req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    deps.health(req, res).then((handled) => {
      if (!handled) next();
    }, next);
  });
  rest.use(events.router);
  rest.use(jobsRouter({ verifier: deps.verifier, jobs: deps.jobs, bulk: deps.bulk, fail }));
  rest.use(openApiRouter(deps.version ?? '0.0.0'));
  rest.use((_req, res) => sendError(res, 404, 'not_found', 'no such route'));
  rest.use(((error, req, res, _next) => fail(req, res, error)) satisfies ErrorRequestHandler);

  const listener: RequestListener = (req, res) => {
    const requestId = requestIdOf(req);
    (req as Tagged)[REQUEST_ID] = requestId;
    res.setHeader('x-request-id', requestId);
    for (const [name, value] of headers) res.setHeader(name, value);
    try {
      const target = parseRequestTarget(req.url);
      if (cors(req, res)) return;
      if (ssot(req, res, target)) return;
      if (events.handle(req, res, target)) return;
      if (deps.dashboard?.(req, res)) return;
      rest(req, res);
    } catch (error) {
      fail(req, res, error);
    }
  };
  return Object.assign(listener, { routes: [...SSOT_ROUTES, ...HEALTH_ROUTES, ...expressRoutes(rest)] });
}

/** The routes registered on an express app's routers, as `METHOD /path` (`:id` written `{id}`). */
function expressRoutes(app: express.Express): string[] {
  type Layer = { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: Layer[] } };
  const walk = (stack: Layer[]): string[] =>
    stack.flatMap((layer) => {
      if (layer.route) {
        const path = layer.route.path.replace(/:(\w+)/g, '{$1}');
        return Object.keys(layer.route.methods).map((method) => `${method.toUpperCase()} ${path}`);
      }
      return layer.handle?.stack ? walk(layer.handle.stack) : [];
    });
  return walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
}

/**
 * Refused tokens are logged with their reason (never sent: CONTRACT §4), at most one line a
 * second with the count of those not logged, so a flood of bad tokens cannot flood the logs.
 */
function refusalLog(logger: Pick<Logger, 'info'>): (requestId: string | undefined, reason: string | undefined) => void {
  let windowStart = 0;
  let suppressed = 0;
  return (requestId, reason) => {
    const now = Date.now();
    if (now - windowStart < 1000) {
      suppressed += 1;
      return;
    }
    logger.info({ requestId, reason, suppressed }, 'request refused: unauthorized');
    windowStart = now;
    suppressed = 0;
  };
}

function clip(url: string | undefined): string | undefined {
  return url && url.length > 200 ? `${url.slice(0, 200)}…` : url;
}

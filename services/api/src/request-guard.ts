import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from 'cors';
import helmet from 'helmet';

/**
 * helmet's default headers (CSP, HSTS, nosniff, frame options, …), computed once: they do not
 * depend on the request, so the hot snapshot route pays a few `setHeader` calls, not a middleware
 * chain.
 */
export function securityHeaders(): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const collect = {
    setHeader: (name: string, value: string) => void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
    getHeader: () => undefined,
  };
  let done = false;
  helmet()({} as IncomingMessage, collect as unknown as ServerResponse, () => {
    done = true;
  });
  // helmet's defaults are synchronous; if a future version is not, fail at start, not per request.
  if (!done) throw new Error('helmet did not finish synchronously');
  return Object.freeze(headers);
}

/** The headers a browser's script may read on a cross-origin answer. */
const EXPOSED = ['ETag', 'X-SSOT-Version', 'X-SSOT-Source', 'Retry-After', 'X-Request-Id'];

/**
 * CORS for the origins in `CORS_ORIGINS` (CONTRACT §2): a listed origin gets
 * `Access-Control-Allow-Origin` with itself (and `Vary: Origin`), any other none, so the browser
 * keeps the answer from its script. No origin listed: nothing is granted (same origin only).
 * Returns a function that answers preflights itself (true) and decorates other requests (false).
 */
export function corsGuard(origins: readonly string[]): (req: IncomingMessage, res: ServerResponse) => boolean {
  if (origins.length === 0) return () => false;
  const handler = cors({
    origin: origins.includes('*') ? '*' : [...origins],
    methods: ['GET', 'HEAD', 'POST'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Content-Encoding', 'If-None-Match', 'X-Request-Id'],
    exposedHeaders: EXPOSED,
    // Tokens travel in Authorization, never in cookies.
    credentials: false,
    maxAge: 600,
  });
  return (req, res) => {
    if (req.headers.origin === undefined) return false;
    let passed = false;
    // With a static origin list the cors package is synchronous: it has answered or passed by now.
    handler(req, res, () => {
      passed = true;
    });
    return !passed;
  };
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The caller's `X-Request-Id` when it is a sane one (a proxy's), else a new one. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

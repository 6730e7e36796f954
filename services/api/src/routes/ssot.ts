import type { IncomingMessage, ServerResponse } from 'node:http';
import { isSectionName, type SectionName } from '@agentos/contracts';
import { bearerToken, NotFoundError, type TokenVerifier } from '@agentos/runtime';
import type { FailRequest } from '../app';
import type { ApiMetrics } from '../metrics';
import type { RequestTarget } from '../request-target';
import type { SnapshotEntry, SnapshotSource, SnapshotStore } from '../snapshot-store';

/** The routes this handler answers (for GET and HEAD). */
export const SSOT_ROUTES = ['GET /api/admin/ssot', 'GET /api/admin/ssot/{section}'];

/** Longest section name worth looking up (the longest real one is 14 characters). */
const MAX_SECTION_NAME = 64;

/**
 * `GET /api/admin/ssot` and `/api/admin/ssot/:section` (CONTRACT §4) on the bare node:http
 * request, ahead of express: this is the hot path, and express's per-request work would cost
 * more than the whole answer. The stored bytes are sent as they are; gzip and br are computed
 * once per version. Returns false for requests that are not these routes.
 */
export function ssotHandler(deps: { store: SnapshotStore; verifier: TokenVerifier; metrics: ApiMetrics; fail: FailRequest }) {
  return (req: IncomingMessage, res: ServerResponse, target: RequestTarget): boolean => {
    const { segments } = target;
    // `/api/admin/ssot`, `/api/admin/ssot/` and `/api/admin/ssot/:section`; anything else is express's.
    if (segments.length > 4 || segments[0] !== 'api' || segments[1] !== 'admin' || segments[2] !== 'ssot') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const section = segments[3] ? segments[3] : null;
    serve(req, res, section).catch((error: unknown) => deps.fail(req, res, error));
    return true;
  };

  async function serve(req: IncomingMessage, res: ServerResponse, section: string | null): Promise<void> {
    await deps.verifier.verifyAdmin(bearerToken(req.headers.authorization));
    if (section !== null && !isSectionName(section) && section !== 'meta') {
      const shown = section.length > MAX_SECTION_NAME ? `${section.slice(0, MAX_SECTION_NAME)}…` : section;
      throw new NotFoundError(`unknown section '${shown}'`);
    }
    const { entry, source } = await deps.store.get();
    if (section === null) {
      await send(req, res, entry, source, entry.etag, entry.body, true);
    } else {
      // Sections are small: sent uncompressed rather than caching every variant of each.
      await send(req, res, entry, source, entry.etag.replace(/"$/, `-${section}"`), entry.section(section as SectionName), false);
    }
  }

  async function send(
    req: IncomingMessage,
    res: ServerResponse,
    entry: SnapshotEntry,
    source: SnapshotSource,
    etag: string,
    raw: Buffer,
    compressible: boolean,
  ): Promise<void> {
    const headers: Record<string, string | number> = {
      etag,
      'x-ssot-version': entry.version,
      'x-ssot-source': source,
      'cache-control': 'private, no-cache',
      vary: 'Accept-Encoding, Authorization',
    };
    if (matches(req.headers['if-none-match'], etag)) {
      deps.metrics.notModified.inc();
      res.writeHead(304, headers);
      res.end();
      return;
    }
    let body = raw;
    const accept = req.headers['accept-encoding'];
    if (compressible && accept) {
      if (/\bbr\b/.test(accept)) {
        body = await entry.br();
        headers['content-encoding'] = 'br';
      } else if (/\bgzip\b/.test(accept)) {
        body = await entry.gzip();
        headers['content-encoding'] = 'gzip';
      }
    }
    headers['content-type'] = 'application/json; charset=utf-8';
    headers['content-length'] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}

/** If-None-Match with weak comparison (RFC 9110 §13.1.2), which is what `W/` ETags need. */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === bare);
}

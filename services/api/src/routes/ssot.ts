import { Router, type Request, type Response } from 'express';
import { isSectionName } from '@agentos/contracts';
import { NotFoundError, type TokenVerifier } from '@agentos/runtime';
import { requireAdmin } from '../auth';
import type { ApiMetrics } from '../metrics';
import type { SnapshotEntry, SnapshotSource, SnapshotStore } from '../snapshot-store';

/**
 * `GET /api/admin/ssot` and `/api/admin/ssot/:section` (CONTRACT §4). The stored bytes are sent
 * as they are; gzip and br are computed once per version.
 */
export function ssotRouter(deps: { store: SnapshotStore; verifier: TokenVerifier; metrics: ApiMetrics }): Router {
  const router = Router();
  router.use('/api/admin/ssot', requireAdmin(deps.verifier));

  router.get('/api/admin/ssot', async (req, res) => {
    const { entry, source } = await deps.store.get();
    await send(req, res, entry, source, entry.etag, () => entry.body, () => entry.gzip(), () => entry.br());
  });

  router.get('/api/admin/ssot/:section', async (req, res) => {
    const name = String(req.params.section);
    if (!isSectionName(name) && name !== 'meta') throw new NotFoundError(`unknown section '${name}'`);
    const { entry, source } = await deps.store.get();
    const body = entry.section(name as never);
    // Sections are small; compressing them per request is cheaper than caching every variant.
    await send(req, res, entry, source, entry.etag.replace(/"$/, `-${name}"`), () => body, null, null);
  });

  async function send(
    req: Request,
    res: Response,
    entry: SnapshotEntry,
    source: SnapshotSource,
    etag: string,
    raw: () => Buffer,
    gzip: (() => Promise<Buffer>) | null,
    br: (() => Promise<Buffer>) | null,
  ): Promise<void> {
    res.setHeader('ETag', etag);
    res.setHeader('X-SSOT-Version', String(entry.version));
    res.setHeader('X-SSOT-Source', source);
    res.setHeader('Cache-Control', 'private, no-cache');
    res.setHeader('Vary', 'Accept-Encoding, Authorization');
    if (matches(req.headers['if-none-match'], etag)) {
      deps.metrics.notModified.inc();
      res.status(304).end();
      return;
    }
    const accept = String(req.headers['accept-encoding'] ?? '');
    let body = raw();
    if (br && /\bbr\b/.test(accept)) {
      body = await br();
      res.setHeader('Content-Encoding', 'br');
    } else if (gzip && /\bgzip\b/.test(accept)) {
      body = await gzip();
      res.setHeader('Content-Encoding', 'gzip');
    }
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', String(body.length));
    res.status(200).end(body);
  }

  return router;
}

/** If-None-Match with weak comparison (RFC 9110 §13.1.2), which is what `W/` ETags need. */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === bare);
}

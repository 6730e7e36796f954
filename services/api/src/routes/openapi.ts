import { Router } from 'express';
import { openApiDocument } from '../openapi';

/** `GET /api/openapi.json` (public, CONTRACT §4): the document, serialised once. */
export function openApiRouter(version: string): Router {
  const router = Router();
  let body: string | undefined;
  router.get('/api/openapi.json', (_req, res) => {
    body ??= JSON.stringify(openApiDocument(version));
    res.set('cache-control', 'public, max-age=300').type('application/json').send(body);
  });
  return router;
}

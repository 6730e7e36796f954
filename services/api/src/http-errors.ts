import type { ErrorRequestHandler, Response } from 'express';
import { SnapshotUnavailableError, SsotError } from '@agentos/runtime';

/** The one place an error code becomes an HTTP status (CONTRACT §4). */
const STATUS_BY_CODE: Record<string, number> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  snapshot_unavailable: 503,
  timeout: 503,
};

export function sendError(res: Response, status: number, code: string, message: string, details?: unknown): void {
  res.status(status).json({ error: { code, message, ...(details === undefined ? {} : { details }) } });
}

export const errorHandler: ErrorRequestHandler = (error, _req, res, _next) => {
  if (error instanceof SnapshotUnavailableError) res.setHeader('Retry-After', String(error.retryAfterS));
  if (error instanceof SsotError) {
    sendError(res, STATUS_BY_CODE[error.code] ?? 500, error.code, error.message, error.details);
    return;
  }
  // body-parser and friends set `status`/`type` on their errors.
  const status = typeof error?.status === 'number' ? error.status : 500;
  if (status === 413) return sendError(res, 413, 'payload_too_large', 'request body too large');
  if (status === 400) return sendError(res, 400, 'invalid_request', 'request body is not valid JSON');
  sendError(res, 500, 'internal', 'internal error');
  res.locals.logger?.error({ err: error }, 'unhandled error');
};

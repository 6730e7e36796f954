import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler } from 'express';
import { SsotError } from '@agentos/runtime';

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
  unavailable: 503,
  timeout: 503,
};

/** Writes `{error: {code, message, details?}}` with its status, on a bare or an express response. */
export function sendError(res: ServerResponse, status: number, code: string, message: string, details?: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ error: { code, message, ...(details === undefined ? {} : { details }) } });
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Any thrown value as the contract's error answer; unknown errors become a 500 that leaks nothing. */
export function sendThrown(res: ServerResponse, error: unknown, log?: (error: unknown) => void): void {
  if (error instanceof SsotError) {
    // Errors that know when a retry can succeed (503 without a snapshot, 429) carry `retryAfterS`.
    const retryAfterS = (error as { retryAfterS?: unknown }).retryAfterS;
    const headers: Record<string, string> = typeof retryAfterS === 'number' ? { 'retry-after': String(retryAfterS) } : {};
    sendError(res, STATUS_BY_CODE[error.code] ?? 500, error.code, error.message, error.details, headers);
    return;
  }
  // body-parser and friends set `status` on their errors.
  const status = (error as { status?: unknown })?.status;
  if (status === 413) return sendError(res, 413, 'payload_too_large', 'request body too large');
  if (status === 400) return sendError(res, 400, 'invalid_request', 'request body is not valid JSON');
  log?.(error);
  sendError(res, 500, 'internal', 'internal error');
}

export function errorHandler(log: (error: unknown) => void): ErrorRequestHandler {
  return (error, _req, res, _next) => sendThrown(res, error, log);
}

import type { ServerResponse } from 'node:http';
import { SsotError } from '@agentos/runtime';

/** The one place an error code becomes an HTTP status (CONTRACT §4). */
const STATUS_BY_CODE: Record<string, number> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  rate_limited: 429,
  snapshot_unavailable: 503,
  unavailable: 503,
  timeout: 503,
};

/**
 * Writes `{error: {code, message, details?}}` with its status, on a bare or an express response.
 * When the answer has already begun (an error while streaming a body) the connection is cut
 * instead: a second status line cannot be sent, and trying would throw.
 */
export function sendError(res: ServerResponse, status: number, code: string, message: string, details?: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
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
    const status = STATUS_BY_CODE[error.code] ?? 500;
    if (status === 500) log?.(error);
    sendError(res, status, error.code, error.message, error.details, headers);
    return;
  }
  // body-parser, express's router and friends set `status` on the errors a client caused.
  const status = (error as { status?: unknown })?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const [code, message] = LIBRARY_CLIENT_ERRORS[status] ?? ['invalid_request', 'invalid request'];
    return sendError(res, status, code, message);
  }
  log?.(error);
  sendError(res, 500, 'internal', 'internal error');
}

/** Fixed texts for the library errors: their own messages may quote internals. */
const LIBRARY_CLIENT_ERRORS: Record<number, [string, string]> = {
  400: ['invalid_request', 'invalid request'],
  413: ['payload_too_large', 'request body too large'],
  415: ['unsupported_media_type', 'unsupported content type or encoding'],
};

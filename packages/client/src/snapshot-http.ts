import type { Snapshot } from '@agentos/contracts';
import { parseRetryAfter } from './backoff';
import { SnapshotReadError } from './errors';

/** Where the api says an answer came from (`X-SSOT-Source`, CONTRACT §4). */
export type HttpSnapshotSource = 'cache' | 'rebuilt' | 'stale';

/** One `GET /api/admin/ssot`, as the caller needs it. Never a thrown error: a failure is an outcome. */
export type SnapshotReadOutcome =
  | { kind: 'snapshot'; snapshot: Snapshot; etag: string | null; source: HttpSnapshotSource }
  | { kind: 'not_modified'; source: HttpSnapshotSource }
  | { kind: 'error'; error: SnapshotReadError };

export interface SnapshotReadRequest {
  /** The full URL of `GET /api/admin/ssot`. */
  url: string;
  token: () => Promise<string>;
  /** The ETag of the copy held, sent as `If-None-Match`; null to ask for the whole snapshot. */
  etag: string | null;
  fetch: typeof fetch;
  signal: AbortSignal;
}

/**
 * Reads the snapshot over HTTP. The api answers from its cache, or on a miss rebuilds it (one
 * rebuild across its replicas, up to 2 s) and answers `rebuilt`, or past that serves the last good
 * copy as `stale`; with no snapshot at all it answers 503 with `Retry-After`.
 */
export async function readSnapshotOverHttp(request: SnapshotReadRequest): Promise<SnapshotReadOutcome> {
  let token: string;
  try {
    token = await request.token();
  } catch (cause) {
    return failed(`the token function failed: ${messageOf(cause)}`, 'token_error', 0, 0, cause);
  }
  let res: Response;
  try {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
    if (request.etag) headers['if-none-match'] = request.etag;
    // Called unbound: a browser's fetch throws "Illegal invocation" when called as a method of another object.
    const fetchFn = request.fetch;
    res = await fetchFn(request.url, { headers, signal: request.signal, cache: 'no-store' });
  } catch (cause) {
    return request.signal.aborted
      ? failed(`no answer from ${request.url} in time`, 'timeout', 0, 0, cause)
      : failed(`no answer from ${request.url}: ${messageOf(cause)}`, 'network_error', 0, 0, cause);
  }
  const source = readSource(res.headers.get('x-ssot-source'));
  if (res.status === 304) {
    await res.body?.cancel().catch(() => {});
    return { kind: 'not_modified', source };
  }
  if (res.status !== 200) {
    const detail = await errorMessage(res);
    const code = res.status === 401 ? 'unauthorized' : res.status === 403 ? 'forbidden' : res.status === 503 ? 'unavailable' : 'http_error';
    return failed(`GET ${request.url}: ${res.status}${detail ? ` ${detail}` : ''}`, code, res.status, parseRetryAfter(res.headers.get('retry-after')));
  }
  let snapshot: Snapshot;
  try {
    snapshot = (await res.json()) as Snapshot;
  } catch (cause) {
    return request.signal.aborted
      ? failed(`no answer from ${request.url} in time`, 'timeout', 0, 0, cause)
      : failed(`GET ${request.url}: the body is not JSON`, 'bad_response', 200, 0, cause);
  }
  const version = (snapshot as { meta?: { version?: unknown } } | null)?.meta?.version;
  if (!Number.isInteger(version) || (version as number) < 1) return failed(`GET ${request.url}: the body is not a snapshot (no meta.version)`, 'bad_response', 200);
  return { kind: 'snapshot', snapshot, etag: res.headers.get('etag'), source };
}

function failed(message: string, code: SnapshotReadError['code'], status: number, retryAfterMs = 0, cause?: unknown): SnapshotReadOutcome {
  return { kind: 'error', error: new SnapshotReadError(message, code, status, retryAfterMs, { cause }) };
}

function readSource(header: string | null): HttpSnapshotSource {
  return header === 'rebuilt' || header === 'stale' ? header : 'cache';
}

/** The api's `{error: {message}}`, or nothing. */
async function errorMessage(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    return typeof message === 'string' ? `(${message})` : '';
  } catch {
    return '';
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

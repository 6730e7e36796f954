/**
 * The api's HTTP routes other than the snapshot (CentralDataService reads that one): JSON in and
 * out, the bearer token on every request, errors in the contract's format (CONTRACT §4) turned
 * into `ApiError`.
 */

/** An answer other than 2xx: the status and the contract's `{error: {code, message}}`. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface ApiClient {
  get<T>(path: string, signal?: AbortSignal): Promise<T>;
  post<T>(path: string, body?: unknown, signal?: AbortSignal): Promise<T>;
}

export interface ApiClientOptions {
  /** The api's base URL; '' for this page's origin. */
  baseUrl: string;
  /** The current token (a fresh one per request). */
  token: () => string | Promise<string>;
  fetch?: typeof fetch;
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  async function request<T>(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${await options.token()}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetchFn(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
    } catch (error) {
      if ((error as Error)?.name === 'AbortError') throw error;
      throw new ApiError(0, 'network_error', `the api could not be reached: ${(error as Error)?.message ?? String(error)}`);
    }
    const text = await res.text();
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        if (res.ok) throw new ApiError(res.status, 'bad_response', `${method} ${path}: the answer is not JSON`);
      }
    }
    if (!res.ok) {
      const error = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
      throw new ApiError(
        res.status,
        typeof error?.code === 'string' ? error.code : `http_${res.status}`,
        typeof error?.message === 'string' ? error.message : `${method} ${path}: HTTP ${res.status}`,
        error?.details,
      );
    }
    return parsed as T;
  }

  return {
    get: (path, signal) => request('GET', path, undefined, signal),
    post: (path, body, signal) => request('POST', path, body ?? {}, signal),
  };
}

/** A path segment for an opaque id (`auth0|5f3a`, `celery@host-1`: CONTRACT §5). */
export const segment = (id: string): string => encodeURIComponent(id);

import { ValidationError } from '@agentos/runtime';
import { UriTooLongError } from './errors';

/** Longest request target (path and query) accepted: no route of the contract comes close. */
export const MAX_URL_LENGTH = 4096;

/** A request's path and query, decoded once where the request enters. */
export interface RequestTarget {
  /** The path as sent (percent-escapes kept), without the query. */
  path: string;
  /** The path's segments, percent-decoded: `/api/admin/ssot/x%2Fy` → `['api', 'admin', 'ssot', 'x/y']`. */
  segments: string[];
  query: URLSearchParams;
}

/**
 * The request target, checked whole before any route sees it: too long → 414; not an origin-form
 * path (`/…`), a malformed percent-escape in the path or the query, or a control character once
 * decoded → 400. `decodeURIComponent` throws a URIError on `%E0%A4%A`; here that is a 400 for this
 * request, never an exception that escapes a route.
 */
export function parseRequestTarget(url: string | undefined): RequestTarget {
  const raw = url ?? '/';
  if (raw.length > MAX_URL_LENGTH) throw new UriTooLongError(`request target over ${MAX_URL_LENGTH} characters`);
  if (!raw.startsWith('/')) throw new ValidationError('request target must be a path starting with /');
  const queryAt = raw.indexOf('?');
  const path = queryAt === -1 ? raw : raw.slice(0, queryAt);
  const search = queryAt === -1 ? '' : raw.slice(queryAt + 1);
  const segments = path
    .split('/')
    .slice(1)
    .map((segment) => decode(segment, 'path'));
  if (search !== '') for (const part of search.split('&')) decode(part.replace(/\+/g, ' '), 'query string');
  return { path, segments, query: new URLSearchParams(search) };
}

function decode(text: string, where: string): string {
  let decoded: string;
  try {
    decoded = text.includes('%') ? decodeURIComponent(text) : text;
  } catch {
    throw new ValidationError(`malformed percent-escape in the ${where}`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(decoded)) throw new ValidationError(`control character in the ${where}`);
  return decoded;
}

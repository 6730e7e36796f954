/**
 * The wait before the next connection attempt after `failures` failed ones in a row: exponential
 * (`minMs · 2^failures`, capped at `maxMs`) with "equal jitter" — a ceiling d becomes a uniform
 * wait between d/2 and d — so clients that lost the same gateway at the same moment do not all
 * come back at the same moment, and none waits longer than `maxMs`.
 */
export function backoffDelay(failures: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(failures, 30));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** `Retry-After` in seconds or as an HTTP date, in ms; 0 when absent or unreadable. */
export function parseRetryAfter(header: string | null): number {
  if (!header) return 0;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? 0 : Math.max(0, at - Date.now());
}

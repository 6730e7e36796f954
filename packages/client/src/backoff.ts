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

/**
 * `next`, with every part that deep-equals the same part of `prev` replaced by `prev`'s object.
 *
 * The client applies patches copy-on-write (untouched parts keep their identity, so most of this
 * walk stops at `prev === next`), but a snapshot read whole — `initial_data` after a reconnection,
 * an HTTP read — is a new tree even where nothing changed, and a patch may replace a part with an
 * equal value. Sharing the unchanged subtrees again is what lets a selector compare by reference:
 * a section, a queue, a worker card keeps its identity while its values stay the same, and React
 * skips what did not change. Once per publish, not per patch (the live store calls this when it
 * publishes).
 */
export function shareUnchanged<T>(prev: unknown, next: T): T {
  if (prev === next) return next;
  if (typeof prev !== 'object' || prev === null || typeof next !== 'object' || next === null) return next;
  if (Array.isArray(prev) !== Array.isArray(next)) return next;

  if (Array.isArray(next)) {
    const before = prev as unknown[];
    let same = before.length === next.length;
    const out = next.map((item, i) => {
      const shared = shareUnchanged(before[i], item);
      if (shared !== before[i]) same = false;
      return shared;
    });
    return (same ? before : out) as T;
  }

  const before = prev as Record<string, unknown>;
  const after = next as Record<string, unknown>;
  const keys = Object.keys(after);
  let same = keys.length === Object.keys(before).length;
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const shared = shareUnchanged(before[key], after[key]);
    if (shared !== before[key] || !(key in before)) same = false;
    out[key] = shared;
  }
  return (same ? before : out) as T;
}

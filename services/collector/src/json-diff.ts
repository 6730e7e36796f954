/**
 * The JSON Patch (RFC 6902) of one snapshot section, written straight to JSON text: the ops
 * fast-json-patch's `compare` makes, in the same order, without cloning each added or replaced
 * value through JSON.stringify and JSON.parse and stringifying it again for the wire.
 *
 * Both sides must be plain JSON values (`isPlainJson`): what the build diffs is the value its
 * section builder returned, not that value parsed back from its JSON, so this is what lets the
 * collector skip the parse. A value JSON cannot carry as it is (a Date, an undefined property,
 * NaN) would make the patch disagree with the stored JSON; the collector parses such a section's
 * JSON instead.
 */

/**
 * Appends to `ops` the JSON text of each op turning `before` into `after`, paths under `path`
 * (an escaped JSON Pointer; '' for the root).
 *
 * As `compare`: an object's keys are visited from the last of `before` to the first (so that an
 * array's removals, from its end, leave the lower indexes valid), then the keys only `after` has
 * are added in order. A value that changes kind (object, array, scalar) is replaced whole.
 */
export function diffJson(before: unknown, after: unknown, path: string, ops: string[]): void {
  if (before === after) return;
  if (!isContainer(before) || !isContainer(after) || Array.isArray(before) !== Array.isArray(after)) {
    ops.push(`{"op":"replace","path":${JSON.stringify(path)},"value":${JSON.stringify(after)}}`);
    return;
  }
  if (Array.isArray(before)) {
    const next = after as unknown[];
    for (let i = before.length - 1; i >= 0; i -= 1) {
      if (i < next.length) diffMember(before[i], next[i], `${path}/${i}`, ops);
      else ops.push(`{"op":"remove","path":${JSON.stringify(`${path}/${i}`)}}`);
    }
    for (let i = before.length; i < next.length; i += 1) ops.push(`{"op":"add","path":${JSON.stringify(`${path}/${i}`)},"value":${JSON.stringify(next[i])}}`);
    return;
  }
  const old = before as Record<string, unknown>;
  const next = after as Record<string, unknown>;
  const oldKeys = Object.keys(old);
  let deleted = false;
  for (let t = oldKeys.length - 1; t >= 0; t -= 1) {
    const key = oldKeys[t]!;
    const at = `${path}/${escapePathComponent(key)}`;
    if (Object.hasOwn(next, key)) {
      diffMember(old[key], next[key], at, ops);
    } else {
      ops.push(`{"op":"remove","path":${JSON.stringify(at)}}`);
      deleted = true;
    }
  }
  const newKeys = Object.keys(next);
  if (!deleted && newKeys.length === oldKeys.length) return;
  for (const key of newKeys) {
    if (!Object.hasOwn(old, key)) ops.push(`{"op":"add","path":${JSON.stringify(`${path}/${escapePathComponent(key)}`)},"value":${JSON.stringify(next[key])}}`);
  }
}

/** A member present on both sides: descend into two containers of one kind, else replace it. */
function diffMember(before: unknown, after: unknown, path: string, ops: string[]): void {
  if (before === after) return;
  if (isContainer(before) && isContainer(after) && Array.isArray(before) === Array.isArray(after)) {
    diffJson(before, after, path, ops);
  } else {
    ops.push(`{"op":"replace","path":${JSON.stringify(path)},"value":${JSON.stringify(after)}}`);
  }
}

function isContainer(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

/** A JSON Pointer reference token (RFC 6901): `~` as `~0`, `/` as `~1`. */
export function escapePathComponent(key: string): string {
  return key.includes('/') || key.includes('~') ? key.replaceAll('~', '~0').replaceAll('/', '~1') : key;
}

/**
 * True when `value` is exactly what JSON.parse would give back from its JSON.stringify: null,
 * booleans, finite numbers, strings, and arrays and plain objects of those. False for anything
 * JSON would change or drop: undefined (as a property or an element), NaN and ±Infinity, a Date
 * or any other class instance (Prisma's Decimal, a Buffer), a bigint, a function.
 */
export function isPlainJson(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i += 1) if (!(i in value) || !isPlainJson(value[i])) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in value) if (!isPlainJson((value as Record<string, unknown>)[key])) return false;
      return true;
    }
    default:
      return false;
  }
}

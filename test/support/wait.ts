import { inspect } from 'node:util';

/**
 * Polls `check` until it returns a truthy value or `timeoutMs` passes; never a bare sleep.
 *
 * At the deadline it reports what the LAST attempt did: if it threw (a jest `expect` failing,
 * say), that very error is rethrown, its message prefixed with what was awaited, so jest still
 * prints the assertion's diff; if it returned a falsy value, an Error names the condition and
 * that value. An earlier attempt's error is not reported once a later attempt got further.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 5000, intervalMs = 20, message = 'condition' }: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: { threw: true; error: unknown } | { threw: false; value: unknown };
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      last = { threw: false, value };
    } catch (error) {
      last = { threw: true, error };
    }
    if (Date.now() > deadline) {
      const waited = `timed out after ${timeoutMs} ms waiting for ${message}`;
      if (!last.threw) throw new Error(`${waited}: the check last returned ${inspect(last.value)}`);
      throw withContext(last.error, `${waited}:\n`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** `error` itself with `prefix` before its message; jest reports from `stack`, so that too. */
function withContext(error: unknown, prefix: string): Error {
  if (!(error instanceof Error)) return new Error(`${prefix}${inspect(error)}`, { cause: error });
  const original = error.message;
  // Read before the message changes: V8 formats `stack` on first read, from the message then.
  const stack = error.stack;
  error.message = `${prefix}${original}`;
  if (typeof stack === 'string') {
    const at = stack.indexOf(original);
    error.stack = at >= 0 ? `${stack.slice(0, at)}${error.message}${stack.slice(at + original.length)}` : `${prefix}${stack}`;
  }
  return error;
}

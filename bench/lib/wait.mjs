// The benchmarks' waits: a sleep, and a poll with a deadline that answers null rather than throws
// (a benchmark records what did not happen in time; it does not fail on it).

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it answers something truthy (returned) or `timeoutMs` passes (null). */
export async function until(check, timeoutMs, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) return null;
    await sleep(everyMs);
  }
}

// Real service processes for the benchmarks: spawned from services/<name>/dist/index.js on a free
// port, waited for on /readyz, their warnings and errors counted, and every one of them killed at
// the end — also when the benchmark fails or is interrupted.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const root = join(import.meta.dirname, '..', '..');
const children = new Set();
// Extra node flags for every service, for diagnosis (e.g. BENCH_NODE_ARGS="--cpu-prof
// --cpu-prof-dir=/tmp/prof"); NODE_OPTIONS refuses some of them.
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

// Last resort: however this process ends (an uncaught error, process.exit), no service outlives it.
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** A port nothing listens on right now (the OS picks it; released before the service binds it). */
export async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Warnings and errors the services logged (pino JSON lines at warn or above, and any line that is
 * not JSON), counted by service and message, with the first occurrence of each kept.
 */
export function createLogBook() {
  const entries = new Map();
  return {
    record(service, line) {
      let level = 'stderr';
      let msg = line.slice(0, 300);
      let detail;
      let at;
      try {
        const parsed = JSON.parse(line);
        // The services log level labels (runtime logger.ts); plain pino logs numbers.
        const rank = typeof parsed.level === 'number' ? parsed.level : { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 }[parsed.level] ?? 40;
        if (rank < 40) return;
        level = rank >= 50 ? 'error' : 'warn';
        msg = parsed.msg ?? msg;
        detail = parsed.err ?? parsed.reason ?? undefined;
        at = parsed.time;
      } catch {
        if (line.trim() === '') return;
      }
      const key = `${service}\u0000${level}\u0000${msg}`;
      const entry = entries.get(key) ?? {
        service,
        level,
        msg,
        count: 0,
        first: detail === undefined ? undefined : JSON.stringify(detail).slice(0, 300),
        first_at: typeof at === 'number' ? new Date(at).toISOString() : at,
      };
      entry.count += 1;
      entries.set(key, entry);
    },
    list: () => [...entries.values()].sort((a, b) => b.count - a.count),
  };
}

/**
 * Starts `services/<name>/dist/index.js` with `env` (on top of this process's, less the batch
 * sizes) and resolves once its `/readyz` answers 200, within `readyMs`. `label` names it in the
 * log book.
 */
export async function startService(name, env, { logBook, label = name, readyMs = 20_000, root: from = root } = {}) {
  const port = await freePort();
  // The batch sizes are what the benchmarks compare: only what the caller says may set them.
  const { EVENT_BATCH, REFRESH_BATCH, ...inherited } = process.env;
  const child = spawn(process.execPath, [...nodeArgs, join(from, `services/${name}/dist/index.js`)], {
    env: { ...inherited, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => logBook?.record(label, line));
  }
  const service = {
    name: label,
    port,
    child,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    async stop(graceMs = 12_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await once(child, 'exit');
      clearTimeout(timer);
    },
  };
  for (const deadline = Date.now() + readyMs; ; ) {
    if (child.exitCode !== null) throw new Error(`${label} exited with ${child.exitCode} before it was ready`);
    const ok = await fetch(service.url('/readyz')).then((r) => r.ok, () => false);
    if (ok) return service;
    if (Date.now() > deadline) {
      await service.stop(1000);
      throw new Error(`${label} was not ready within ${readyMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Kills every service still running (SIGTERM, then SIGKILL after `graceMs`). */
export async function stopAll(graceMs = 12_000) {
  await Promise.all([...children].map(async (child) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await once(child, 'exit');
    clearTimeout(timer);
  }));
}

/** Every series of a Prometheus metric: label set (as printed, `{…}` or '') → value. */
export async function scrapeSeries(url, metric) {
  const text = await (await fetch(url)).text();
  const series = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric)) continue;
    const rest = line.slice(metric.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const space = line.lastIndexOf(' ');
    series.set(line.slice(metric.length, space), Number(line.slice(space + 1)));
  }
  return series;
}

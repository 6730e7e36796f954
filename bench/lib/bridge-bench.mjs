// What the two bridge benchmarks (bench/bridge-celery.mjs, bench/bridge-bullmq.mjs) share: the
// statistics they report, their deadline waits, a process's CPU from /proc, stream-id order, a
// consumer group's idleness, and a redis-server of their own for the platform's broker.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from './services.mjs';
import { until } from './wait.mjs';

// The waits every benchmark uses, here too so that a bridge benchmark imports from one place.
export { sleep, until } from './wait.mjs';
export const round = (x, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

/** Nearest-rank percentiles of `xs`. */
export function percentiles(xs) {
  if (xs.length === 0) return { n: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, p50: round(q(0.5)), p90: round(q(0.9)), p99: round(q(0.99)), max: round(s[s.length - 1]) };
}


/** utime and stime of a process (stat(5) fields 14 and 15), in clock ticks. */
export function processTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]), system: Number(fields[12]) };
}

export const parseId = (id) => id.split('-').map(Number);
export const compareIds = ([am, as], [bm, bs]) => am - bm || as - bs;

/** Whether consumer group `group` of `stream` has nothing pending and nothing unread. */
export async function groupIdle(redis, stream, group) {
  const groups = await redis.xinfo('GROUPS', stream).catch(() => []);
  for (const flat of groups) {
    const g = {};
    for (let i = 0; i < flat.length; i += 2) g[flat[i]] = flat[i + 1];
    if (g.name === group) return Number(g.pending) === 0 && (g.lag === null || Number(g.lag) === 0);
  }
  return true;
}

/** Deletes every key matching `pattern` (SCAN, never KEYS): a run's namespaces, left behind otherwise. */
export async function removeKeys(redis, pattern) {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
    cursor = next;
    if (found.length > 0) await redis.unlink(...found);
  } while (cursor !== '0');
}

/**
 * A redis-server of the benchmark's own (the platform's broker), so its CPU shows apart from the
 * SSOT's; `db` is the database its URL names.
 */
export async function startRedisServer(label, db) {
  const dir = mkdtempSync(join(tmpdir(), `bench-${label}-`));
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', join(dir, 'redis.log')], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}${db === undefined ? '' : `/${db}`}`;
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => 100 });
  client.on('error', () => {});
  await until(() => client.connect().then(() => true, () => false), 10_000, 100);
  return {
    url,
    client,
    pid: child.pid,
    async stop() {
      client.disconnect();
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

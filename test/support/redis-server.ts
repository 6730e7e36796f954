// A redis-server of a test's own, for tests that must kill, restart or replicate Redis without
// touching the shared one.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from './processes';
import { waitFor } from './wait';

/**
 * A redis-server of the test's own, on a free port, persisting nothing: a restart loses every key.
 * `args` are more of its options (`--replicaof host port`, say). A replica's first sync starts at
 * once: Redis 7 otherwise waits `repl-diskless-sync-delay` (5 s) for more replicas to share it.
 */
export async function startRedisServer(args: readonly string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'ssot-test-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess;

  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', join(dir, 'redis.log'), '--repl-diskless-sync-delay', '0', ...args], {
      stdio: 'ignore',
    });
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} (log in ${dir})`);
          if (probe.status !== 'ready') await probe.connect().catch(() => probe.disconnect());
          return (await probe.ping()) === 'PONG';
        },
        { timeoutMs: 10_000, intervalMs: 50, message: `redis-server on port ${port}` },
      );
    } finally {
      probe.disconnect();
    }
  };
  const halt = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await gone;
  };

  await start();
  return {
    url,
    port,
    /** SIGKILL: every key is lost (nothing is persisted). `start()` brings up an empty one on the same port. */
    async crash(): Promise<void> {
      await halt('SIGKILL');
    },
    start,
    async stop(): Promise<void> {
      await halt('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

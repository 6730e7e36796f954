// A Redis Cluster of a test's own: three masters, no replicas, each its own redis-server on a
// free port with its own directory, persisting nothing. For tests that must run on Cluster
// (hash slots, MOVED, sharded pub/sub) without touching the shared Redis.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { freePort } from './processes';
import { waitFor } from './wait';

const run = promisify(execFile);

export type RedisCluster = Awaited<ReturnType<typeof startRedisCluster>>;

/**
 * Starts `masters` cluster-enabled redis-servers on 127.0.0.1, joins them with
 * `redis-cli --cluster create` (slots spread evenly, no replicas), and resolves once every node
 * reports `cluster_state:ok` and sees every master. `url` is the `REDIS_URL` the services take.
 */
export async function startRedisCluster(masters = 3, { timeoutMs = 20_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  const nodes: { port: number; dir: string; child: ChildProcess; restarts: number }[] = [];
  const stop = async () => {
    await Promise.all(
      nodes.map(async ({ child, dir }) => {
        if (child.exitCode === null && child.signalCode === null) {
          const gone = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGKILL');
          await gone;
        }
        rmSync(dir, { recursive: true, force: true });
      }),
    );
  };

  /**
   * Starts a node in `dir` on two free ports. Another process may take one of them between
   * `freePort` and redis-server's bind: that node exits at once, and is started again on others.
   */
  const launch = async (dir: string, restarts = 0) => {
    const port = await freePort();
    // The bus port is a free one too: the default (port + 10000) may be taken or past 65535.
    const busPort = await freePort();
    rmSync(join(dir, 'nodes.conf'), { force: true });
    const child = spawn(
      'redis-server',
      [
        '--port', String(port),
        '--cluster-port', String(busPort),
        '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, 'nodes.conf'),
        '--cluster-node-timeout', '2000',
        '--save', '',
        '--appendonly', 'no',
        '--dir', dir,
        '--logfile', join(dir, 'redis.log'),
      ],
      { stdio: 'ignore' },
    );
    return { port, dir, child, restarts };
  };
  const connect = (port: number) => {
    const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    client.on('error', () => {});
    return client;
  };
  const logTail = (dir: string) => {
    try {
      return readFileSync(join(dir, 'redis.log'), 'utf8').trim().split('\n').slice(-5).join('\n');
    } catch {
      return '(no log)';
    }
  };

  try {
    for (let i = 0; i < masters; i += 1) nodes.push(await launch(mkdtempSync(join(tmpdir(), 'ssot-test-cluster-'))));
    const clients = nodes.map(({ port }) => connect(port));
    try {
      /** Runs `check` on every node; `restart`: a node that exited is started again (before the cluster is made only). */
      const each = async (check: (client: Redis, i: number) => Promise<boolean>, restart = false) =>
        (
          await Promise.all(
            clients.map(async (client, i) => {
              const node = nodes[i]!;
              if (node.child.exitCode !== null) {
                const why = `redis-server on ${node.port} exited with ${node.child.exitCode}: ${logTail(node.dir)}`;
                if (!restart || node.restarts >= 3) throw new Error(why);
                client.disconnect();
                nodes[i] = await launch(node.dir, node.restarts + 1);
                clients[i] = connect(nodes[i]!.port);
                return false;
              }
              if (client.status !== 'ready') await client.connect().catch(() => client.disconnect());
              return check(client, i);
            }),
          )
        ).every(Boolean);
      await waitFor(() => each(async (client) => (await client.ping()) === 'PONG', true), { timeoutMs: deadline - Date.now(), intervalMs: 50, message: 'every cluster node answering' });
      await run('redis-cli', ['--cluster', 'create', ...nodes.map(({ port }) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'], {
        timeout: Math.max(deadline - Date.now(), 1000),
      });
      await waitFor(
        () =>
          each(async (client) => {
            const info = (await client.call('CLUSTER', 'INFO')) as string;
            const known = ((await client.call('CLUSTER', 'SLOTS')) as unknown[]).length;
            return /cluster_state:ok/.test(info) && known === masters;
          }),
        { timeoutMs: deadline - Date.now(), intervalMs: 100, message: 'cluster_state:ok on every node, every master known' },
      );
    } finally {
      for (const client of clients) client.disconnect();
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const ports = nodes.map(({ port }) => port);
  return {
    /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,…`. */
    url: `redis+cluster://${ports.map((port) => `127.0.0.1:${port}`).join(',')}`,
    ports,
    /** A plain connection to one node (`CLUSTER …`, `PUBSUB …`, or what that node holds). */
    node(index: number): Redis {
      const client = new Redis(ports[index]!, '127.0.0.1', { maxRetriesPerRequest: 1 });
      client.on('error', () => {});
      return client;
    },
    stop,
  };
}

// The system on a Redis Cluster (issue 12): api, collector and dispatcher, and two gateway
// processes, with a hash-tag namespace on a real three-master cluster of the suite's own. An
// event posted over HTTP reaches the snapshot and the admin and user rooms on each gateway, and
// every key the services wrote sits in the one slot of the namespace's tag.
import { randomUUID } from 'node:crypto';
import { closeRedis, type Redis } from '@agentos/runtime';
import { TestClient } from '../../services/realtime-gateway/test/harness';
import { type RedisCluster, startRedisCluster } from '../support/redis-cluster';
import { signToken } from '../support/tokens';
import { waitFor } from '../support/wait';
import { type Stack, startStack } from './harness';

jest.setTimeout(60_000);

describe('end to end on Redis Cluster', () => {
  let cluster: RedisCluster;
  let stack: Stack;
  const nodes: Redis[] = [];
  const sockets: TestClient[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster();
    nodes.push(...cluster.ports.map((_, i) => cluster.node(i)));
    stack = await startStack({ redisUrl: cluster.url, gateways: 2, name: 'e2e_cluster', seed: false });
  }, 60_000);
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await stack?.stop();
    await closeRedis(...nodes);
    await cluster?.stop();
  }, 30_000);

  it('an event posted reaches GET /api/admin/ssot and the admin and user rooms on each gateway', async () => {
    expect(stack.namespace).toMatch(/^\{test-e2e_cluster-[0-9a-f]{8}\}$/);
    const userId = `cluster-user-${randomUUID().slice(0, 8)}`;
    const jobId = `cluster-job-${randomUUID().slice(0, 8)}`;
    const [adminToken, userToken] = await Promise.all([signToken({ sub: 'cluster-admin', role: 'admin' }), signToken({ sub: userId, role: 'user' })]);
    const connect = async (port: number, token: string) => {
      const socket = await TestClient.connect(port, token);
      sockets.push(socket);
      return socket;
    };
    const admins = await Promise.all(stack.gateways.map((gateway) => connect(gateway.port, adminToken)));
    const users = await Promise.all(stack.gateways.map((gateway) => connect(gateway.port, userToken)));
    // Each admin starts from the snapshot the stack built.
    await waitFor(() => admins.every((admin) => admin.of('initial_data').length === 1), { timeoutMs: 10_000, message: 'initial_data on each gateway' });

    const payload = { job_id: jobId, queue: 'cluster', type: 'render', user_id: userId };
    const res = await fetch(`${stack.apiUrl}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.ingestToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: [{ name: 'job:created', payload }, { name: 'job:processing', payload: { ...payload, worker_id: 'cluster-worker', progress: 30 } }] }),
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ accepted: 2, duplicates: 0 });

    // The snapshot, as an operator reads it.
    const read = await waitFor(
      async () => {
        const snapshot = await stack.read();
        const job = snapshot.body?.dashboard.jobs.recent_jobs.find((j) => j.id === jobId);
        return job?.status === 'processing' ? { version: snapshot.version, job } : null;
      },
      { timeoutMs: 15_000, intervalMs: 100, message: 'the job processing in GET /api/admin/ssot' },
    );
    expect(read.job).toMatchObject({ id: jobId, queue: 'cluster', user_id: userId, worker_id: 'cluster-worker', progress: 30 });

    // The admin room on each gateway: both events, and the snapshot's update up to that version.
    const forJob = (socket: TestClient, event: string) => socket.of(event).filter((m) => m.data.job_id === jobId);
    await waitFor(() => admins.every((admin) => forJob(admin, 'job:new').length === 1 && forJob(admin, 'job:progress').length === 1), {
      timeoutMs: 10_000,
      message: 'job:new and job:progress to the admin on each gateway',
    });
    await waitFor(() => admins.every((admin) => admin.of('ssot:update').some((m) => m.data.version >= read.version)), {
      timeoutMs: 10_000,
      message: `ssot:update to v${read.version} on each gateway`,
    });
    // The user's room on each gateway: the progress (job:new goes to admins only).
    await waitFor(() => users.every((user) => forJob(user, 'job:progress').length === 1), { timeoutMs: 10_000, message: "job:progress to the user's room on each gateway" });
    for (const user of users) {
      expect(forJob(user, 'job:progress')[0]).toMatchObject({ type: 'job:progress', data: { job_id: jobId, user_id: userId, progress: 30 } });
      expect(user.of('job:new')).toEqual([]);
    }
  });

  it('keeps every key the services wrote in the one slot of the namespace, on one master', async () => {
    const tagSlot = Number(await nodes[0]!.call('CLUSTER', 'KEYSLOT', stack.namespace.slice(1, -1)));
    const held = await Promise.all(
      nodes.map(async (node) => {
        const keys: string[] = [];
        let cursor = '0';
        do {
          const [next, batch] = await node.scan(cursor, 'MATCH', `${stack.namespace}:*`, 'COUNT', 1000);
          cursor = next;
          keys.push(...batch);
        } while (cursor !== '0');
        return keys;
      }),
    );
    const holders = held.filter((keys) => keys.length > 0);
    expect(holders).toHaveLength(1);
    // The snapshot, its sections, the streams, heartbeats, the seen-markers the ingest script
    // writes by prefix, and more.
    expect(holders[0]).toEqual(expect.arrayContaining([stack.keys.snapshot, stack.keys.sections, stack.keys.events, stack.keys.refreshRequests, stack.keys.serviceHeartbeats]));
    expect(holders[0]!.some((key) => key.startsWith(stack.keys.eventSeen('')))).toBe(true);
    const slots = new Set(await Promise.all(holders[0]!.map(async (key) => Number(await nodes[0]!.call('CLUSTER', 'KEYSLOT', key)))));
    expect([...slots]).toEqual([tagSlot]);
  });
});

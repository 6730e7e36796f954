// The gateway on Redis Cluster (issue 12): the sharded socket.io adapter (SPUBLISH/SSUBSCRIBE)
// spans the replicas, and the broadcast channel (a plain PUBLISH, copied to every node) reaches
// every replica's sockets — on a real three-master cluster of the suite's own.
import { type BroadcastMessage, redisKeys } from '@agentos/contracts';
import { closeRedis, createRedis, type Redis } from '@agentos/runtime';
import type { GatewayService } from '../src/service';
import { startGateways, TestClient } from './harness';
import { type RedisCluster, startRedisCluster } from '../../../test/support/redis-cluster';
import { cleanupNamespace, uniqueNamespace } from '../../../test/support/redis';
import { signToken } from '../../../test/support/tokens';
import { waitFor } from '../../../test/support/wait';

describe('realtime-gateway on Redis Cluster', () => {
  const namespace = uniqueNamespace('gw-cluster', { hashTag: true });
  const keys = redisKeys(namespace);
  let cluster: RedisCluster;
  let gateways: GatewayService[] = [];
  let stopGateways: () => Promise<void> = async () => {};
  let redis: Redis;
  const nodes: Redis[] = [];
  const clients: TestClient[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster();
    nodes.push(...cluster.ports.map((_, i) => cluster.node(i)));
    redis = createRedis(cluster.url, { name: 'test', role: 'command' });
    ({ gateways, cleanup: stopGateways } = await startGateways(2, namespace, { REDIS_URL: cluster.url }));
  }, 30_000);
  afterAll(async () => {
    for (const client of clients) client.close();
    await stopGateways();
    if (cluster) await cleanupNamespace(namespace, cluster.url);
    await closeRedis(...(redis ? [redis] : []), ...nodes);
    await cluster?.stop();
  });

  const connect = async (gateway: GatewayService, sub: string, role: 'admin' | 'user') => {
    const client = await TestClient.connect(gateway.port, await signToken({ sub, role }));
    clients.push(client);
    return client;
  };

  it('spans the replicas with the sharded adapter: SSUBSCRIBE on the namespace slot, a room emit over SPUBLISH', async () => {
    const admin = await connect(gateways[1]!, 'cluster-admin', 'admin');
    // A request through the adapter and the answers of every replica (fetchSockets): gateway 0
    // sees the socket held by gateway 1.
    await waitFor(async () => (await gateways[0]!.io.in('admin').fetchSockets()).length === 1, { timeoutMs: 10_000, message: "gateway 0 sees gateway 1's admin" });
    const probe = { type: 'adapter:probe', data: { from: 0 }, timestamp: new Date().toISOString() };
    const arrived = admin.next('adapter:probe');
    gateways[0]!.io.to('admin').emit('adapter:probe', probe);
    expect(await arrived).toEqual(probe);

    // The adapter's channels are shard channels, all on the node that owns the namespace's slot;
    // none is a classic channel.
    const shardChannels = await Promise.all(nodes.map(async (node) => (await node.call('PUBSUB', 'SHARDCHANNELS', `${keys.socketIo}*`)) as string[]));
    const holding = shardChannels.filter((channels) => channels.length > 0);
    expect(holding).toHaveLength(1);
    expect(holding[0]).toEqual(expect.arrayContaining([`${keys.socketIo}#/#`, `${keys.socketIo}#/#admin#`]));
    const classic = await Promise.all(nodes.map(async (node) => (await node.call('PUBSUB', 'CHANNELS', `${keys.socketIo}*`)) as string[]));
    expect(classic.flat()).toEqual([]);
  });

  it('relays the broadcast channel to the room on every replica', async () => {
    const users = [await connect(gateways[0]!, 'cluster-user', 'user'), await connect(gateways[1]!, 'cluster-user', 'user')];
    const other = await connect(gateways[1]!, 'someone-else', 'user');
    const message: BroadcastMessage = {
      rooms: ['user:cluster-user'],
      message: { type: 'job:progress', data: { id: 'e-1', job_id: 'j-1', queue: 'q', type: 't', progress: 40 }, timestamp: new Date().toISOString() },
    };
    const arrived = users.map((user) => user.next('job:progress'));
    // A plain PUBLISH on Cluster is copied to every node: each gateway's subscription hears it
    // wherever ioredis placed it.
    await redis.publish(keys.broadcastChannel, JSON.stringify(message));
    expect(await Promise.all(arrived)).toEqual([message.message, message.message]);
    // Only that user's room: a message to the other user, published after, arrives after anything
    // the first could have sent it.
    const mine: BroadcastMessage = { rooms: ['user:someone-else'], message: { ...message.message, type: 'job:done' } };
    const done = other.next('job:done');
    await redis.publish(keys.broadcastChannel, JSON.stringify(mine));
    expect(await done).toEqual(mine.message);
    expect(other.of('job:progress')).toEqual([]);
  });
});

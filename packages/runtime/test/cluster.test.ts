// Redis Cluster (issue 12): every role connects with ioredis Cluster and keeps its timeouts, SCAN
// covers every master, and every name keys.ts builds under a hash-tag namespace lands in one slot
// — on a real three-master cluster of the suite's own.
import { randomUUID } from 'node:crypto';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { redisKeys } from '@agentos/contracts';
import type { Cluster } from 'ioredis';
import { z } from 'zod';
import { loadEnv, redisEnv } from '../src/env';
import { Lease } from '../src/lease';
import { closeRedis, createRedis, isCluster, isRedisUrl, pingConnection, type Redis, type RedisRole, redisConnectionOptions, scanKeys } from '../src/redis';
import { createLogger } from '../src/logger';
import { startStreamConsumer, type StreamEntry } from '../src/stream-consumer';
import { withTimeout } from '../src/timeout';
import { type RedisCluster, startRedisCluster } from '../../../test/support/redis-cluster';
import { uniqueNamespace } from '../../../test/support/redis';
import { waitFor } from '../../../test/support/wait';

describe('REDIS_URL on Redis Cluster', () => {
  it('names a cluster by some of its nodes, with credentials and TLS, and nothing else', () => {
    for (const url of ['redis+cluster://10.0.0.1:7000,10.0.0.2:7001', 'redis+cluster://h1', 'rediss+cluster://u:p@h1:6380,h2:6380/']) {
      expect({ url, ok: isRedisUrl(url) }).toEqual({ url, ok: true });
    }
    // No database on Cluster, no query (nothing would read it), a port that is one.
    for (const url of ['redis+cluster://', 'redis+cluster://h1:7000/2', 'redis+cluster://h1:7000?x=1', 'redis+cluster://h1:port', 'redis+cluster://h1:70000', 'redis+cluster://h1,,h2']) {
      expect({ url, ok: isRedisUrl(url) }).toEqual({ url, ok: false });
    }
    expect(redisConnectionOptions('rediss+cluster://u:p%40ss@h1:7000,h2')).toEqual({
      cluster: [
        { host: 'h1', port: 7000 },
        { host: 'h2', port: 6379 },
      ],
      options: { username: 'u', password: 'p@ss', tls: {} },
    });
  });

  it('requires SSOT_NAMESPACE to be a hash tag, in the one message that names every problem', () => {
    const load = (env: Record<string, string>) => () => loadEnv('svc', z.object({ ...redisEnv, PORT: z.coerce.number() }), env);
    const cluster = 'redis+cluster://127.0.0.1:7000';
    const why = 'on Redis Cluster (REDIS_URL is redis+cluster://): a name in braces, such as {ssot}, so that every key is in one slot';
    expect(load({ REDIS_URL: cluster, PORT: 'x' })).toThrow(
      `svc: invalid environment (2 problems):\n  PORT: Invalid input: expected number, received NaN\n  SSOT_NAMESPACE: is required ${why}`,
    );
    expect(load({ REDIS_URL: cluster, SSOT_NAMESPACE: 'ssot', PORT: '1' })).toThrow(`svc: invalid environment (1 problem):\n  SSOT_NAMESPACE: must contain a hash tag ${why}`);
    // An empty tag is no tag; two tags, or braces around what a namespace may not hold, are refused on any Redis.
    expect(load({ REDIS_URL: cluster, SSOT_NAMESPACE: 'x{}', PORT: '1' })).toThrow('(2 problems)');
    for (const bad of ['{a}{b}', '{a:b}', '{a', 'a}']) {
      expect(load({ SSOT_NAMESPACE: bad, PORT: '1' })).toThrow('  SSOT_NAMESPACE: letters, digits, _ . - only, with at most one hash tag {…} of them');
    }
    for (const namespace of ['{ssot}', 'prod-{ssot}', '{ssot}.eu']) {
      expect(load({ REDIS_URL: cluster, SSOT_NAMESPACE: namespace, PORT: '1' })()).toMatchObject({ REDIS_URL: cluster, SSOT_NAMESPACE: namespace });
    }
    // One server needs no tag.
    expect(load({ SSOT_NAMESPACE: 'ssot', PORT: '1' })()).toMatchObject({ SSOT_NAMESPACE: 'ssot' });
  });
});

describe('createRedis on a real Redis Cluster', () => {
  let cluster: RedisCluster;
  const clients: Redis[] = [];
  const connect = (role: RedisRole, commandTimeoutMs = 1000, url = cluster.url, name = `test:${role}`) => {
    const client = createRedis(url, { name, role, commandTimeoutMs });
    clients.push(client);
    return client;
  };
  const node = (index: number) => {
    const client = cluster.node(index);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 30_000);
  afterAll(async () => {
    await closeRedis(...clients);
    await cluster?.stop();
  });

  it('puts every name keys.ts builds under a hash-tag namespace in the one slot of the tag', async () => {
    const control = node(0);
    const slot = async (name: string) => Number(await control.call('CLUSTER', 'KEYSLOT', name));
    // Ids as platforms make them, braces and separators included.
    const ids = ['42', 'celery@host-1', 'auth0|5f3a', '{other}', 'a:b}{c'];
    const names = (namespace: string) =>
      Object.entries(redisKeys(namespace)).flatMap(([field, value]): [string, string][] => {
        if (field === 'namespace') return [];
        if (typeof value === 'function') return ids.map((id) => [`${field}(${id})`, (value as (id: string) => string)(id)]);
        // The socket.io adapter's channels: `<prefix>#<nsp>#`, per room `…#<room>#`, per server `…#<uid>#`.
        if (field === 'socketIo') return ['#/#', '#/#admin#', '#/#user:{other}#', `#/#${randomUUID()}#`].map((suffix) => [`${field}${suffix}`, `${value}${suffix}`]);
        return [[field, value as string]];
      });

    const namespace = uniqueNamespace('slots', { hashTag: true });
    const tagged = names(namespace);
    expect(tagged.length).toBeGreaterThan(30);
    const expected = await slot(namespace.slice(1, -1));
    const slots = await Promise.all(tagged.map(async ([what, name]) => [what, await slot(name)] as const));
    expect(slots.filter(([, s]) => s !== expected)).toEqual([]);

    // Without the tag the same names spread over many slots: the check above has teeth.
    const untagged = new Set(await Promise.all(names('plain').map(([, name]) => slot(name))));
    expect(untagged.size).toBeGreaterThan(10);
  });

  it('gives every role a Cluster connection that serves keys on every master', async () => {
    const command = connect('command');
    const subscriber = connect('subscriber');
    const blocking = connect('blocking');
    for (const client of [command, subscriber, blocking]) expect(isCluster(client)).toBe(true);

    const namespace = uniqueNamespace('spread');
    const keys = Array.from({ length: 60 }, (_, i) => `${namespace}:k${i}`);
    await Promise.all(keys.map((key, i) => command.set(key, String(i))));
    expect(await Promise.all(keys.map((key) => command.get(key)))).toEqual(keys.map((_, i) => String(i)));
    // The keys are spread, so every master served some of them.
    const held = await Promise.all(cluster.ports.map((_, i) => node(i).dbsize()));
    expect(held.every((n) => n > 0)).toBe(true);

    // SCAN through the Cluster object visits one node; scanKeys visits every master.
    const found: string[] = [];
    for await (const batch of scanKeys(command, `${namespace}:*`)) found.push(...batch);
    expect(found.sort()).toEqual([...keys].sort());
    const [, oneNode] = await command.scan('0', 'MATCH', `${namespace}:*`, 'COUNT', 1000);
    expect(oneNode.length).toBeLessThan(keys.length);
    await Promise.all(keys.map((key) => command.unlink(key)));
  });

  it('keeps scripts, MULTI and pub/sub working under a hash-tag namespace', async () => {
    const command = connect('command');
    const subscriber = connect('subscriber');
    const keys = redisKeys(uniqueNamespace('ops', { hashTag: true }));

    // A Lua script (defineCommand, EVALSHA) on the lease key.
    const mine = new Lease(command, keys.warmerLease, 'me', 5000);
    const theirs = new Lease(command, keys.warmerLease, 'them', 5000);
    expect([await mine.acquire(), await theirs.acquire()]).toEqual([true, false]);
    await mine.release();
    expect(await theirs.acquire()).toBe(true);

    // MULTI over several keys of the namespace (one slot); untagged ones would be refused.
    const [set, added] = (await command.multi().hset(keys.sections, 'a', '1').xadd(keys.events, '*', 'event', '{}').exec())!;
    expect([set, added![1]]).toEqual([[null, 1], expect.stringMatching(/^\d+-\d+$/)]);
    await expect(command.multi().set('plain:a', '1').set('plain:b', '1').exec()).rejects.toThrow(/same slot|CROSSSLOT/);

    // A plain PUBLISH reaches a subscriber whichever node either is connected to.
    const heard: string[] = [];
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === keys.versionChannel) heard.push(message);
    });
    await subscriber.subscribe(keys.versionChannel);
    await command.publish(keys.versionChannel, 'v1');
    await waitFor(() => heard.includes('v1'), { message: 'the announcement heard' });
    await command.unlink(keys.warmerLease, keys.sections, keys.events);
  });

  it('reads a stream in a consumer group over a blocking Cluster connection of its own', async () => {
    const command = connect('command');
    const blocking = connect('blocking');
    const keys = redisKeys(uniqueNamespace('stream', { hashTag: true }));
    const handled: string[] = [];
    const consumer = startStreamConsumer({
      stream: keys.events,
      group: 'test-group',
      consumer: 'c1',
      redis: command,
      blocking,
      logger: createLogger('test', 'silent'),
      blockMs: 200,
      handle: async (entries: StreamEntry[]) => {
        handled.push(...entries.map(([, fields]) => fields[1]!));
        return entries.map(([id]) => id);
      },
    });
    try {
      // Added while the consumer is blocked in XREADGROUP: the read must not hold up these XADDs.
      for (let i = 0; i < 5; i += 1) await command.xadd(keys.events, '*', 'event', `e${i}`);
      await waitFor(() => handled.length === 5, { timeoutMs: 5000, message: 'five entries handled' });
      expect(handled).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
      await waitFor(async () => ((await command.xpending(keys.events, 'test-group')) as [number])[0] === 0, { message: 'every entry acknowledged' });
    } finally {
      await consumer.stop();
      await command.unlink(keys.events);
    }
  });

  it('fails a command after its timeout while the cluster does not answer', async () => {
    // A node that takes connections and never answers (a blackholed network).
    const accepted = new Set<Socket>();
    const silent = createServer((socket) => {
      accepted.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const url = `redis+cluster://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      // Queued by the Cluster itself (never ready): without a clock of its own from the moment it
      // is issued, it would wait for ever.
      const subscriber = connect('subscriber', 300, url);
      await expect(withTimeout(subscriber.subscribe('anything'), 3000, 'SUBSCRIBE')).rejects.toThrow('Command timed out');
      // An auto-pipelined command before the first slot map: held until the slot refresh fails.
      const command = connect('command', 300, url);
      await expect(withTimeout(command.get('anything'), 3000, 'GET')).rejects.toThrow(/Command timed out|None of startup nodes is available/);
      await closeRedis(subscriber, command);
    } finally {
      for (const socket of accepted) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('probes a subscriber over the connection that carries its subscriptions', async () => {
    const subscriber = connect('subscriber', 1000, cluster.url, 'test:probed');
    const channel = `${uniqueNamespace('probe', { hashTag: true })}:ssot:version`;
    await subscriber.subscribe(channel);
    expect(await pingConnection(subscriber, 'subscriber')).toEqual(['pong', '']);

    // On whichever node holds it: the subscribed connection, whose last command was that PING.
    const lists = await Promise.all(cluster.ports.map(async (_, i) => (await node(i).call('CLIENT', 'LIST')) as string));
    const subscribed = lists.flatMap((list) => list.split('\n')).filter((line) => / sub=1 /.test(line) && line.includes('name=ioredis-cluster(subscriber):test:probed '));
    expect(subscribed).toHaveLength(1);
    expect(subscribed[0]).toMatch(/ cmd=ping /);
    await subscriber.unsubscribe(channel);
    // A command connection is probed by its own PING.
    expect(await pingConnection(connect('command'), 'command')).toBe('PONG');
    expect((subscriber as unknown as Cluster).nodes('master')).toHaveLength(3);
  });
  it('drops a subscription connection that stops answering, and subscribes again on a new one', async () => {
    const subscriber = connect('subscriber', 300, cluster.url, 'test:silenced');
    const channel = `${uniqueNamespace('silenced', { hashTag: true })}:ssot:broadcast`;
    const heard: string[] = [];
    subscriber.on('message', (from: string, message: string) => {
      if (from === channel) heard.push(message);
    });
    await subscriber.subscribe(channel);
    const subscribed = async () =>
      (
        await Promise.all(
          cluster.ports.map(async (_, i) =>
            ((await node(i).call('CLIENT', 'LIST')) as string)
              .split('\n')
              .filter((line) => / sub=1 /.test(line) && line.includes('name=ioredis-cluster(subscriber):test:silenced '))
              .map((line) => ({ node: i, id: /^id=(\d+)/.exec(line)![1] })),
          ),
        )
      ).flat();
    const [before] = await subscribed();
    expect(before).toBeDefined();

    // The node holding it stops answering its clients: the probe's PING goes unanswered.
    await node(before!.node).call('CLIENT', 'PAUSE', '2500', 'ALL');
    await expect(pingConnection(subscriber, 'subscriber', 300)).rejects.toThrow('PING timed out after 2000 ms');
    // The subscription moves to a new connection, and a message published through another node
    // reaches it there. Only published once the server lists the new connection: a message sent
    // earlier can still arrive on the old one, which keeps reading until the paused node closes it.
    const other = node((before!.node + 1) % cluster.ports.length);
    await waitFor(
      async () => {
        const now = await subscribed();
        expect(now).toHaveLength(1);
        expect(now[0]!.id).not.toBe(before!.id);
        await other.publish(channel, 'after');
        return heard.includes('after');
      },
      { timeoutMs: 10_000, intervalMs: 200, message: 'the subscription on a new connection, hearing what is published' },
    );
  });
});

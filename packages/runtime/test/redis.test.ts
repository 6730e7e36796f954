// How the services' Redis connections meet silent faults and failovers (issue 8): a command
// never waits past its timeout, a connection that stops answering is dropped and dialled again,
// and READONLY (the old primary, demoted) sends the connection to wherever the address now leads.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { createRedis, isRedisUrl, redisConnectionOptions } from '../src/redis';
import { freePort } from '../../../test/support/processes';
import { startRedisServer } from '../../../test/support/redis-server';
import { startTcpProxy } from '../../../test/support/tcp-proxy';
import { waitFor } from '../../../test/support/wait';

describe('createRedis', () => {
  const cleanups: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const connect = (url: string, role: 'command' | 'subscriber' = 'command', commandTimeoutMs = 300) => {
    const client = createRedis(url, { name: 'test', role, commandTimeoutMs });
    cleanups.push(() => client.disconnect());
    return client;
  };

  it('follows a failover: a write answered READONLY is sent again over a new connection, to the new primary', async () => {
    const primary = await startRedisServer();
    cleanups.push(() => primary.stop());
    const replica = await startRedisServer(['--replicaof', '127.0.0.1', String(primary.port)]);
    cleanups.push(() => replica.stop());
    // The address the service knows leads to the replica: as after a failover, before its DNS name moved.
    const proxy = await startTcpProxy('127.0.0.1', replica.port);
    cleanups.push(() => proxy.close());

    const client = connect(`redis://127.0.0.1:${proxy.port}`, 'command', 2000);
    expect(await client.ping()).toBe('PONG');
    proxy.retarget('127.0.0.1', primary.port);
    // Sent to the replica (READONLY), then again on the new connection, now to the primary.
    expect(await client.set('failover', 'written')).toBe('OK');
    const direct = connect(primary.url);
    expect(await direct.get('failover')).toBe('written');
  });

  it('reaches the primary through Sentinel, and the new one after a failover', async () => {
    const primary = await startRedisServer();
    cleanups.push(() => primary.stop());
    const replica = await startRedisServer(['--replicaof', '127.0.0.1', String(primary.port)]);
    cleanups.push(() => replica.stop());
    const sentinel = await startSentinel(primary.port);
    cleanups.push(() => sentinel.stop());

    const client = connect(`redis+sentinel://127.0.0.1:${sentinel.port}/ssot-test`, 'command', 2000);
    expect(await client.set('before', '1')).toBe('OK');
    const direct = connect(primary.url);
    expect(await direct.get('before')).toBe('1');
    await waitFor(async () => (await connect(replica.url).get('before')) === '1', { message: 'the replica in sync' });

    // Sentinel promotes the replica; the old primary becomes one and answers writes READONLY.
    const control = connect(`redis://127.0.0.1:${sentinel.port}`);
    await waitFor(async () => (await control.call('SENTINEL', 'FAILOVER', 'ssot-test')) === 'OK', { timeoutMs: 10_000, intervalMs: 250, message: 'sentinel accepts the failover' });
    await waitFor(async () => ((await control.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'ssot-test')) as string[])[1] === String(replica.port), { timeoutMs: 15_000, message: 'the replica promoted' });
    // Until Sentinel has turned the old primary into a replica, it still takes writes (the window
    // min-replicas-to-write closes in production); once it has, the client's next write meets
    // READONLY, reconnects, and Sentinel leads it to the new primary.
    await waitFor(async () => /role:slave/.test(await direct.info('replication')), { timeoutMs: 15_000, message: 'the old primary demoted' });
    await waitFor(async () => (await client.set('after', '2')) === 'OK', { timeoutMs: 15_000, intervalMs: 200, message: 'a write accepted after the failover' });
    expect(await connect(replica.url).get('after')).toBe('2');
  });

  it('fails a command after its timeout when Redis stops answering, drops the silent connection, and works again once it answers', async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const proxy = await startTcpProxy('127.0.0.1', server.port);
    cleanups.push(() => proxy.close());
    const client = connect(`redis://127.0.0.1:${proxy.port}`, 'command', 300);
    expect(await client.ping()).toBe('PONG');
    const closes: number[] = [];
    client.on('close', () => closes.push(closes.length));

    proxy.blackhole();
    await expect(client.get('anything')).rejects.toThrow('Command timed out');
    // Nothing received for 3 × the timeout after a command: the connection is dropped.
    await waitFor(() => closes.length > 0, { timeoutMs: 5000, message: 'the silent connection dropped' });

    proxy.forward();
    await waitFor(async () => (await client.ping()) === 'PONG', { timeoutMs: 10_000, intervalMs: 100, message: 'PONG again' });
  });

  it('reports a subscription refused on reconnect as an error event, not an unhandled rejection', async () => {
    // ioredis subscribes again by itself after a reconnect and does not handle that answer
    // (ioredis#2187). Redis 7 drops a subscriber whose channels an ACL change took away; the
    // reconnected client's SUBSCRIBE is then refused with NOPERM.
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const admin = connect(server.url);
    await admin.call('ACL', 'SETUSER', 'svc', 'on', '>secret', '~*', '&*', '+@all');
    const url = `redis://svc:secret@127.0.0.1:${server.port}`;
    const subscriber = connect(url, 'subscriber', 1000);
    const errors: string[] = [];
    subscriber.on('error', (error: Error) => errors.push(error.message));
    await subscriber.subscribe('ssot:test:channel');
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    cleanups.push(() => void process.off('unhandledRejection', onUnhandled));

    await admin.call('ACL', 'SETUSER', 'svc', 'resetchannels');
    await waitFor(() => errors.some((message) => message.startsWith('NOPERM')), { timeoutMs: 5000, message: 'the refused SUBSCRIBE reported' });
    expect(unhandled).toEqual([]);
    // Given its channel back, the client subscribes again as it would after any reconnect.
    await admin.call('ACL', 'SETUSER', 'svc', '&*');
    await subscriber.subscribe('ssot:test:channel');
  });

  it('keeps its subscriptions through a reconnect whose re-SUBSCRIBE failed, and drops what was unsubscribed', async () => {
    // ioredis learns the subscriptions from Redis's answers: after a reconnect whose SUBSCRIBE
    // failed (here refused; in production, a connection that dropped again first), it forgot
    // them, and every later reconnect came back subscribed to nothing.
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const admin = connect(server.url);
    await admin.call('ACL', 'SETUSER', 'svc', 'on', '>secret', '~*', '&*', '+@all');
    const subscriber = connect(`redis://svc:secret@127.0.0.1:${server.port}`, 'subscriber', 1000);
    const errors: string[] = [];
    subscriber.on('error', (error: Error) => errors.push(error.message));
    const received: string[] = [];
    subscriber.on('message', (channel: string, message: string) => received.push(`${channel}=${message}`));
    await subscriber.subscribe(['ssot:test:kept', 'ssot:test:dropped']);
    await subscriber.unsubscribe('ssot:test:dropped');

    // Reconnect 1: the channels taken away, the re-SUBSCRIBE refused.
    await admin.call('ACL', 'SETUSER', 'svc', 'resetchannels');
    await waitFor(() => errors.some((message) => message.startsWith('NOPERM')), { timeoutMs: 5000, message: 'the refused SUBSCRIBE reported' });
    // Reconnect 2: the channels given back, the connection dropped again.
    await admin.call('ACL', 'SETUSER', 'svc', '&*');
    await admin.call('CLIENT', 'KILL', 'USER', 'svc');
    await waitFor(
      async () => {
        await admin.publish('ssot:test:kept', 'hello');
        await admin.publish('ssot:test:dropped', 'not for it');
        return received.includes('ssot:test:kept=hello');
      },
      { timeoutMs: 5000, intervalMs: 100, message: 'a message on the kept channel after the second reconnect' },
    );
    expect(received.filter((entry) => entry.startsWith('ssot:test:dropped'))).toEqual([]);
  });
});

/** A redis-server in Sentinel mode watching the primary on `primaryPort` (quorum 1, fast timeouts). */
async function startSentinel(primaryPort: number) {
  const dir = mkdtempSync(join(tmpdir(), 'ssot-sentinel-'));
  const port = await freePort();
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ssot-test 127.0.0.1 ${primaryPort} 1`,
      'sentinel down-after-milliseconds ssot-test 1000',
      'sentinel failover-timeout ssot-test 5000',
      '',
    ].join('\n'),
  );
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  await waitFor(
    async () => {
      if (probe.status !== 'ready') await probe.connect().catch(() => probe.disconnect());
      return ((await probe.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'ssot-test')) as string[] | null)?.[1] === String(primaryPort);
    },
    { timeoutMs: 10_000, intervalMs: 100, message: 'sentinel up' },
  );
  probe.disconnect();
  return {
    port,
    async stop() {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('REDIS_URL', () => {
  it('names one server or a Sentinel deployment, and nothing else', () => {
    for (const url of ['redis://127.0.0.1:6379', 'rediss://user:pw@host:6380/2', 'redis+sentinel://s1:26379,s2:26379/mymaster', 'rediss+sentinel://:pw@s1/mymaster/3?sentinelPassword=x']) {
      expect({ url, ok: isRedisUrl(url) }).toEqual({ url, ok: true });
    }
    for (const url of ['http://x', 'redis+sentinel://s1:26379', 'redis+sentinel:///m', 'nope']) expect({ url, ok: isRedisUrl(url) }).toEqual({ url, ok: false });
    expect(redisConnectionOptions('rediss+sentinel://u:p%40ss@s1:26380,s2/mymaster/3?sentinelPassword=sp').options).toEqual({
      sentinels: [
        { host: 's1', port: 26380 },
        { host: 's2', port: 26379 },
      ],
      name: 'mymaster',
      username: 'u',
      password: 'p@ss',
      db: 3,
      sentinelPassword: 'sp',
      tls: {},
    });
  });
});

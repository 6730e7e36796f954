// How the services' Redis connections meet silent faults and failovers (issue 8): a command
// never waits past its timeout, a connection that stops answering is dropped and dialled again,
// and READONLY (the old primary, demoted) sends the connection to wherever the address now leads.
import { createRedis, type Redis } from '../src/redis';
import { startRedisServer } from '../../../test/support/redis-server';
import { startTcpProxy } from '../../../test/support/tcp-proxy';
import { waitFor } from '../../../test/support/wait';

describe('createRedis', () => {
  const cleanups: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const connect = (url: string, role: 'command' | 'subscriber' = 'command', commandTimeoutMs = 300): Redis => {
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
});

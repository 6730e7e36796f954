import { createServer, type Server, Socket as NetSocket, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

interface Link {
  client: Socket;
  upstream: Socket | null;
}

/**
 * A TCP proxy in front of a real server, so a test can take the server away from a client:
 * - `cut()` refuses new connections and drops open ones (the server is visibly gone); `restore()`
 *   undoes it.
 * - `blackhole()` stops forwarding in both directions without closing anything: connections stay
 *   open, new ones are accepted, and nothing is answered — what a client sees when the network
 *   drops its packets or the server hangs. `forward()` delivers what waited and goes on.
 */
export async function startTcpProxy(targetHost: string, targetPort: number) {
  let target = { host: targetHost, port: targetPort };
  const links = new Set<Link>();
  let open = true;
  let flowing = true;

  const connectUpstream = (link: Link) => {
    const upstream = new NetSocket();
    upstream.connect(target.port, target.host);
    link.upstream = upstream;
    link.client.pipe(upstream).pipe(link.client);
    upstream.on('error', () => close(link)).on('close', () => close(link));
  };
  const close = (link: Link) => {
    link.client.destroy();
    link.upstream?.destroy();
    links.delete(link);
  };

  const server: Server = createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const link: Link = { client, upstream: null };
    links.add(link);
    client.on('error', () => close(link)).on('close', () => close(link));
    if (flowing) connectUpstream(link);
    else client.pause();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    /** Connections open through the proxy now. */
    get connections(): number {
      return links.size;
    },
    /** New connections go to `host:port` from now on; open ones stay where they are (a failover's DNS change). */
    retarget(host: string, port: number) {
      target = { host, port };
    },
    cut() {
      open = false;
      for (const link of [...links]) close(link);
    },
    restore() {
      open = true;
    },
    blackhole() {
      flowing = false;
      for (const { client, upstream } of links) {
        if (!upstream) continue;
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    forward() {
      flowing = true;
      for (const link of links) {
        if (!link.upstream) {
          connectUpstream(link);
          continue;
        }
        link.client.pipe(link.upstream);
        link.upstream.pipe(link.client);
      }
    },
    async close() {
      this.cut();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

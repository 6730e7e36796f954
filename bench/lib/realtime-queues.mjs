// Where a message waits between Redis and a socket client, sampled every 2 s during the load:
//   redis_out    bytes Redis holds for a process's connections and has not written yet (CLIENT LIST
//                omem: a subscriber that does not keep up makes Redis buffer its messages);
//   redis_in     bytes in the kernel's receive queues of those connections, not read yet;
//   to_clients   bytes the servers wrote to their sockets that the client processes have not read
//                (receive queues of the client ends), and bytes still in the servers' send queues.
// What none of these holds and is still late waits inside a server process (its event loop).
// Linux with ss(8); elsewhere the sampler reports null.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** `ss` lines of established TCP sockets matching `filter`: [recvQ, sendQ, localPort, peerPort, pid?]. */
async function sockets(filter, withProcess = false) {
  const { stdout } = await run('ss', ['-tnH', ...(withProcess ? ['-p'] : []), 'state', 'established', filter], { maxBuffer: 64 * 2 ** 20 });
  const out = [];
  for (const line of stdout.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+\S+:(\d+)\s+\S+:(\d+)(?:.*pid=(\d+))?/.exec(line);
    if (m) out.push([Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), m[5] ? Number(m[5]) : undefined]);
  }
  return out;
}

const summary = (xs) => (xs.length === 0 ? null : { mean: Math.round(xs.reduce((a, b) => a + b, 0) / xs.length), max: Math.max(...xs) });

/**
 * @param {object} options
 * @param {import('ioredis').Redis} options.redis
 * @param {number} options.redisPort
 * @param {Record<number, string>} options.labels pid → label of the processes to follow
 * @param {number[]} options.serverPorts the ports the sockets connect to
 * @param {number} [options.everyMs] @default 2000
 */
export function queueSampler({ redis, redisPort, labels, serverPorts, everyMs = 2000 }) {
  let timer;
  let portToPid = new Map();
  const samples = [];
  const servers = new Set(serverPorts);
  // One ss call per sample (ss itself costs ~30 ms of CPU with 20,000 sockets).
  const filter = `( dport = :${redisPort} or ${serverPorts.map((p) => `dport = :${p} or sport = :${p}`).join(' or ')} )`;

  async function sample(t0) {
    const [all, clientList] = await Promise.all([sockets(filter), redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')]);
    const row = { t: Math.round((performance.now() - t0) / 100) / 10, redis_out: {}, redis_in: {} };
    let clientsUnread = 0;
    let serversUnsent = 0;
    for (const [recvQ, sendQ, localPort, peerPort] of all) {
      if (peerPort === redisPort) {
        const label = labels[portToPid.get(localPort)];
        if (label) row.redis_in[label] = (row.redis_in[label] ?? 0) + recvQ;
      } else if (servers.has(peerPort)) clientsUnread += recvQ;
      else if (servers.has(localPort)) serversUnsent += sendQ;
    }
    for (const line of String(clientList).split('\n')) {
      const port = Number(/addr=\S+:(\d+)/.exec(line)?.[1]);
      const label = labels[portToPid.get(port)];
      if (label) row.redis_out[label] = (row.redis_out[label] ?? 0) + Number(/omem=(\d+)/.exec(line)?.[1] ?? 0);
    }
    row.clients_unread = clientsUnread;
    row.servers_unsent = serversUnsent;
    samples.push(row);
  }

  return {
    async start() {
      // Which process owns each Redis connection (once: they live as long as the phase).
      try {
        portToPid = new Map((await sockets(`( dport = :${redisPort} )`, true)).filter((s) => s[4]).map((s) => [s[2], s[4]]));
      } catch {
        portToPid = null;
        return;
      }
      const t0 = performance.now();
      let busy = false;
      timer = setInterval(() => {
        if (busy) return;
        busy = true;
        sample(t0)
          .catch(() => {})
          .finally(() => (busy = false));
      }, everyMs);
    },
    stop() {
      clearInterval(timer);
      if (!portToPid) return null;
      const names = [...new Set(samples.flatMap((s) => [...Object.keys(s.redis_out), ...Object.keys(s.redis_in)]))].sort();
      return {
        every_ms: everyMs,
        samples: samples.length,
        bytes: {
          redis_out: Object.fromEntries(names.map((n) => [n, summary(samples.map((s) => s.redis_out[n] ?? 0))])),
          redis_in: Object.fromEntries(names.map((n) => [n, summary(samples.map((s) => s.redis_in[n] ?? 0))])),
          clients_unread: summary(samples.map((s) => s.clients_unread)),
          servers_unsent: summary(samples.map((s) => s.servers_unsent)),
        },
        series: samples,
      };
    },
  };
}

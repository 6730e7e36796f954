import { spawn } from 'node:child_process';
import { get } from 'node:http';
import { join } from 'node:path';
import { type RedisKeys, type VersionAnnouncement } from '@agentos/contracts';
import type Redis from 'ioredis';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import WebSocket from 'ws';
import { loadGatewayConfig } from '../src/config';
import { type GatewayService, startGatewayService } from '../src/service';
import { type ServiceProcess, spawnService } from '../../../test/support/processes';
import { TEST_REDIS_URL } from '../../../test/support/redis';
import { TEST_SECRET } from '../../../test/support/tokens';

/** Starts `count` gateways on port 0, each with its own Redis connections; one `cleanup()` stops them all. */
export async function startGateways(
  count: number,
  namespace: string,
  env: Record<string, string> = {},
): Promise<{ gateways: GatewayService[]; cleanup(): Promise<void> }> {
  const gateways: GatewayService[] = [];
  for (let i = 0; i < count; i += 1) {
    gateways.push(
      await startGatewayService(
        loadGatewayConfig({
          REDIS_URL: TEST_REDIS_URL,
          SSOT_NAMESPACE: namespace,
          AUTH_JWT_SECRET: TEST_SECRET,
          LOG_LEVEL: process.env.GATEWAY_TEST_LOG_LEVEL ?? 'silent',
          PORT: '0',
          ...env,
        }),
      ),
    );
  }
  return { gateways, cleanup: async () => void (await Promise.all(gateways.map((g) => g.stop()))) };
}

export interface Received {
  event: string;
  message: { type: string; data: any; timestamp: string };
}

/** A socket.io client that records every server message, in order. */
export class TestClient {
  readonly received: Received[] = [];
  private constructor(readonly socket: ClientSocket) {
    socket.onAny((event: string, message: Received['message']) => this.received.push({ event, message }));
  }

  /** Connects over WebSocket; rejects with the connect_error. */
  static async connect(port: number, token: string | undefined): Promise<TestClient> {
    const socket = connect(`http://127.0.0.1:${port}`, {
      auth: token === undefined ? {} : { token },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    const client = new TestClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (error) => {
        socket.close();
        reject(error);
      });
    });
    return client;
  }

  of(event: string): Received['message'][] {
    return this.received.filter((r) => r.event === event).map((r) => r.message);
  }

  /** Resolves with the first message of `event` matching `predicate` from now on. */
  next(event: string, predicate: (message: Received['message']) => boolean = () => true, timeoutMs = 5000): Promise<Received['message']> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.socket.off(event, listener);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${event}`));
      }, timeoutMs);
      const listener = (message: Received['message']) => {
        if (!predicate(message)) return;
        clearTimeout(timer);
        this.socket.off(event, listener);
        resolve(message);
      };
      this.socket.on(event, listener);
    });
  }

  emitWithAck(event: string, ...args: unknown[]): Promise<any> {
    return this.socket.timeout(5000).emitWithAck(event, ...args);
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * A client speaking the socket.io protocol over a bare `ws` WebSocket, so a test can stop it
 * reading (`pause`): what the server sends then piles up in the kernel buffers, then in the
 * gateway. Resolves once the socket.io connection is accepted, with the server-side socket id.
 */
export async function rawClient(port: number, token: string) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`);
  const frames: string[] = [];
  let onFrame: (() => void) | undefined;
  ws.on('message', (data) => {
    const frame = data.toString();
    // engine.io ping: answer, or the server closes the connection.
    if (frame === '2') ws.send('3');
    else frames.push(frame);
    onFrame?.();
  });
  const waitFrame = (predicate: (frame: string) => boolean, timeoutMs = 5000) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a frame')), timeoutMs);
      const check = () => {
        const found = frames.find(predicate);
        if (!found) return;
        clearTimeout(timer);
        onFrame = undefined;
        resolve(found);
      };
      onFrame = check;
      check();
    });
  await waitFrame((f) => f.startsWith('0{'));
  ws.send(`40${JSON.stringify({ token })}`);
  const connected = await waitFrame((f) => f.startsWith('40{') || f.startsWith('44'));
  if (!connected.startsWith('40{')) throw new Error(`refused: ${connected}`);
  const sid = (JSON.parse(connected.slice(2)) as { sid: string }).sid;
  return {
    ws,
    sid,
    /** socket.io events received so far: `[name, argument]`. */
    events(): [string, any][] {
      return frames.filter((f) => f.startsWith('42')).map((f) => JSON.parse(f.slice(2)) as [string, any]);
    },
    async close(): Promise<void> {
      if (ws.readyState === WebSocket.CLOSED) return;
      const closed = new Promise((resolve) => ws.once('close', resolve));
      ws.terminate();
      await closed;
    },
  };
}

/** Writes `body` as the stored snapshot (and last good copy) and announces its version, as the collector does. */
export async function writeSnapshot(redis: Redis, keys: RedisKeys, snapshot: { meta: { version: number } }): Promise<string> {
  const body = JSON.stringify(snapshot);
  await redis.set(keys.snapshot, body, 'EX', 60);
  await redis.set(keys.lastGood, body);
  const announcement: VersionAnnouncement = {
    version: snapshot.meta.version,
    sections: [],
    requests: [],
    generated_at: new Date().toISOString(),
    bytes: body.length,
    complete: true,
  };
  await redis.publish(keys.versionChannel, JSON.stringify(announcement));
  return body;
}

/** A small snapshot-shaped document: `meta` first, as the collector writes it. */
export function fakeSnapshot(version: number, extra: Record<string, unknown> = {}) {
  return {
    meta: { version, generated_at: new Date().toISOString(), build_ms: 1, stale: false, errors: {} },
    dashboard: { system: { status: 'ok', uptime: version, cpu_usage: 0.5 } },
    logs: { recent_entries: [{ id: `log-${version}`, message: `version ${version}` }] },
    ...extra,
  };
}

export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** The value of one counter or gauge (summed over its labels, or for the given ones). */
export async function metric(gateway: GatewayService, name: string, labels: Record<string, string> = {}): Promise<number> {
  const found = gateway.registry.getSingleMetric(name);
  if (!found) throw new Error(`no metric ${name}`);
  const { values } = await found.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

const GATEWAY_MAIN = join(__dirname, '..', 'dist', 'index.js');

/**
 * Runs the built gateway (`dist/`, which `npm test` builds first) as its own process, so a test
 * can see that it survives what would crash a process. Resolves once it is healthy.
 */
export function spawnGateway(env: Record<string, string>): Promise<ServiceProcess> {
  return spawnService('realtime-gateway', { AUTH_JWT_SECRET: TEST_SECRET, ...env });
}

/** Runs the built gateway with `env` until it exits on its own; its exit code and stderr. */
export function runGatewayToExit(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [GATEWAY_MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway did not exit; stderr: ${stderr}`));
    }, 10_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

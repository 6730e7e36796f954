// Services as the processes they are in production (their built `dist/`, which `npm test` builds
// first), for tests that must see a process exit, or take Redis away from all of them at once.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { waitFor } from './wait';

const ROOT = join(__dirname, '..', '..');

export type ServiceName = 'api' | 'realtime-gateway' | 'collector' | 'cache-warmer' | 'dispatcher' | 'celery-bridge' | 'bullmq-bridge';

export interface ServiceProcess {
  name: ServiceName;
  port: number;
  url: string;
  child: ChildProcess;
  /** Still running: never exited, never killed. */
  alive(): boolean;
  /** The last 50 kB it wrote (stdout and stderr). */
  output(): string;
  /** `GET path` on its port: status and body, or status 0 when it does not answer within `timeoutMs`. */
  get(path: string, timeoutMs?: number): Promise<{ status: number; body: string; ms: number }>;
  /** SIGTERM, then SIGKILL after 10 s; resolves with its exit code once it is gone. */
  stop(): Promise<number | null>;
  /** As a crash: SIGKILL; resolves once it is gone. */
  kill(): Promise<void>;
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts `services/<name>/dist/index.js` with `env` on a free port; resolves once its `/healthz` answers 200. */
export async function spawnService(name: ServiceName, env: Record<string, string>): Promise<ServiceProcess> {
  const main = join(ROOT, 'services', name, 'dist', 'index.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: build first (npm run build)`);
  const port = await freePort();
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Keep the tail only: the pipes must be read, or a chatty child blocks on a full one.
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-50_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const url = `http://127.0.0.1:${port}`;

  const get = async (path: string, timeoutMs = 5000) => {
    const started = performance.now();
    try {
      const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
      return { status: res.status, body: await res.text(), ms: performance.now() - started };
    } catch {
      return { status: 0, body: '', ms: performance.now() - started };
    }
  };

  const service: ServiceProcess = {
    name,
    port,
    url,
    child,
    alive,
    output: () => output,
    get,
    async stop() {
      if (!alive()) return exited;
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(force);
      return code;
    },
    async kill() {
      if (alive()) child.kill('SIGKILL');
      await exited;
    },
  };
  try {
    await waitFor(
      async () => {
        if (!alive()) throw new Error(`${name} exited with ${child.exitCode ?? child.signalCode}:\n${output}`);
        return (await get('/healthz', 1000)).status === 200;
      },
      { timeoutMs: 20_000, intervalMs: 100, message: `${name} /healthz 200` },
    );
  } catch (error) {
    await service.stop();
    throw error;
  }
  return service;
}

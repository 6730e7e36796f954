import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { withTimeout } from './timeout';

/** A named readiness check: resolves when the dependency answers, throws when it does not. */
export type ReadinessCheck = () => Promise<unknown>;

export interface HealthOptions {
  registry: Registry;
  /** Checked on every /readyz, in parallel, each bounded by `checkTimeoutMs`. */
  readiness: Record<string, ReadinessCheck>;
  /** @default 1000 */
  checkTimeoutMs?: number;
}

/**
 * `/healthz` (the process is alive), `/readyz` (every dependency answered) and `/metrics`
 * (Prometheus text) as a plain request handler, so the api mounts it in express and the other
 * services serve it alone. Returns false for any other path.
 */
export function healthHandler(options: HealthOptions) {
  const timeoutMs = options.checkTimeoutMs ?? 1000;
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      send(res, 200, 'application/json', '{"status":"ok"}');
      return true;
    }
    if (path === '/readyz') {
      const entries = await Promise.all(
        Object.entries(options.readiness).map(async ([name, check]) => {
          try {
            await withTimeout(check(), timeoutMs, `${name} check`);
            return [name, 'ok'] as const;
          } catch (error) {
            return [name, (error as Error).message || 'failed'] as const;
          }
        }),
      );
      const checks = Object.fromEntries(entries);
      const ready = entries.every(([, status]) => status === 'ok');
      send(res, ready ? 200 : 503, 'application/json', JSON.stringify({ status: ready ? 'ready' : 'not_ready', checks }));
      return true;
    }
    if (path === '/metrics') {
      send(res, 200, options.registry.contentType, await options.registry.metrics());
      return true;
    }
    return false;
  };
}

/** The small HTTP server of the services that have no other: health, readiness, metrics. */
export async function startHealthServer(port: number, options: HealthOptions, host?: string): Promise<Server> {
  const handle = healthHandler(options);
  const server = createServer((req, res) => {
    handle(req, res).then(
      (handled) => {
        if (!handled) send(res, 404, 'application/json', '{"error":{"code":"not_found","message":"no such path"}}');
      },
      () => send(res, 500, 'application/json', '{"error":{"code":"internal","message":"health handler failed"}}'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

export function serverPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createHttpServer, type HttpServerOptions } from './http-server';
import { withTimeout } from './timeout';
import type { Watchdog } from './watchdog';

/** A named readiness check: resolves when the dependency answers, throws when it does not. */
export type ReadinessCheck = () => Promise<unknown>;

export interface HealthOptions {
  registry: Registry;
  /** Checked on every /readyz, in parallel, each bounded by `checkTimeoutMs`. */
  readiness: Record<string, ReadinessCheck>;
  /** @default 1000 */
  checkTimeoutMs?: number;
  /** Loops whose progress `/healthz` reports: red (503) while any is stuck past its deadline. */
  watchdog?: Watchdog;
}

/**
 * `/healthz` (the process is alive and its loops make progress), `/readyz` (every dependency
 * answered) and `/metrics`
 * (Prometheus text) as a plain request handler, so the api mounts it in express and the other
 * services serve it alone. Returns false for any other path.
 */
export function healthHandler(options: HealthOptions) {
  const timeoutMs = options.checkTimeoutMs ?? 1000;
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      const stuck = options.watchdog?.stuck() ?? [];
      if (stuck.length === 0) send(res, 200, 'application/json', '{"status":"ok"}');
      else send(res, 503, 'application/json', JSON.stringify({ status: 'stuck', stuck }));
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
export async function startHealthServer(port: number, options: HealthOptions & { http?: HttpServerOptions }, host?: string): Promise<Server> {
  const handle = healthHandler(options);
  const server = createHttpServer((req, res) => {
    handle(req, res).then(
      (handled) => {
        if (!handled) send(res, 404, 'application/json', '{"error":{"code":"not_found","message":"no such path"}}');
      },
      () => send(res, 500, 'application/json', '{"error":{"code":"internal","message":"health handler failed"}}'),
    );
  }, options.http);
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

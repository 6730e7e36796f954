// What the bridge's suites share: a BullMQ prefix of their own on the real Redis (removed after),
// the bridge as a process (services/bullmq-bridge/dist) pointed at a stack, and BullMQ clients
// in the test process.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import type { Stack } from '../../../test/e2e/harness';
import { spawnService, type ServiceProcess } from '../../../test/support/processes';
import { TEST_REDIS_URL } from '../../../test/support/redis';
import { signToken } from '../../../test/support/tokens';
import { waitFor } from '../../../test/support/wait';

/** A BullMQ prefix no other suite (or run) shares. */
export function uniquePrefix(): string {
  return `test-bull-${randomUUID().slice(0, 8)}`;
}

/** A connection as BullMQ workers want it (blocking commands never time out). */
export function bullConnection(): Redis {
  return new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function cleanupPrefix(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Starts the built bridge against `stack` and BullMQ under `prefix`, quick to poll. */
export function spawnBridge(stack: Stack, prefix: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
  return spawnService('bullmq-bridge', {
    REDIS_URL: TEST_REDIS_URL,
    SSOT_NAMESPACE: stack.namespace,
    BULLMQ_REDIS_URL: TEST_REDIS_URL,
    BULLMQ_PREFIX: prefix,
    INGEST_URL: stack.apiUrl,
    INGEST_TOKEN: stack.ingestToken,
    BULLMQ_BLOCK_MS: '200',
    BULLMQ_POLL_MS: '500',
    BULLMQ_DISCOVERY_MS: '300',
    BULLMQ_LEASE_MS: '2000',
    LOG_LEVEL: 'warn',
    ...env,
  });
}

/** `POST /api/admin/jobs/:id/{action}` as an admin: the status and the body. */
export async function command(stack: Stack, jobId: string, action: 'retry' | 'cancel'): Promise<{ status: number; body: { command_id?: string; error?: { code: string; message: string } } }> {
  const token = await signToken({ sub: 'bullmq-admin', role: 'admin' });
  const res = await fetch(`${stack.apiUrl}/api/admin/jobs/${encodeURIComponent(jobId)}/${action}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: (await res.json()) as never };
}

/** `waitFor` for a check made of assertions: done once `check` returns without throwing. */
export function eventually(check: () => unknown, options: Parameters<typeof waitFor>[1] = {}): Promise<true> {
  return waitFor(async () => {
    await check();
    return true as const;
  }, options);
}

/**
 * A proxy in front of the api's `POST /api/events` that can withhold the answer to a batch the
 * api has already accepted: killing the bridge then is the crash between "the api has them" and
 * "the position is saved", which is what deterministic event ids are for.
 */
export async function startIngestProxy(target: string) {
  /** Stream events (ids `bullmq:…`) the api accepted through here. */
  let forwarded = 0;
  /** Each request the api accepted (202): its events' names and job ids, in order. */
  const accepted: { name: string; job_id?: string }[][] = [];
  let hold: { after: number; resolve(): void } | null = null;
  const held: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString();
      try {
        const upstream = await fetch(`${target}${req.url}`, {
          method: req.method,
          headers: { authorization: req.headers.authorization ?? '', 'content-type': req.headers['content-type'] ?? 'application/json' },
          body: req.method === 'POST' ? body : undefined,
        });
        const text = await upstream.text();
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
        const streamEvents = upstream.status === 202 ? body.split('"id":"bullmq:').length - 1 : 0;
        if (upstream.status === 202) {
          const { events } = JSON.parse(body) as { events: { name: string; payload: { job_id?: string } }[] };
          accepted.push(events.map((e) => ({ name: e.name, job_id: e.payload.job_id })));
        }
        forwarded += streamEvents;
        if (hold && streamEvents > 0 && forwarded >= hold.after) {
          held.push(res);
          hold.resolve();
          hold = null;
          return;
        }
        res.end(text);
      } catch {
        res.writeHead(502).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Stream events the api accepted through here so far. */
    forwarded: () => forwarded,
    /** The requests the api accepted through here so far: each one's events (name, job id). */
    requests: () => accepted,
    /**
     * Resolves once the api accepted a batch of stream events that brings the count to `after`
     * or more; the bridge never gets the answer to that one.
     */
    holdAccepted(after: number): Promise<void> {
      return new Promise((resolve) => {
        hold = { after, resolve };
      });
    },
    /** Drops every withheld answer (their client is gone by then). */
    dropHeld(): void {
      for (const res of held.splice(0)) res.destroy();
    },
    close(): Promise<void> {
      hold = null;
      for (const res of held.splice(0)) res.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

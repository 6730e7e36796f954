import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { EventPublisher, IngestError, PublisherClosedError, PublisherQueueFullError } from '@agentos/client';
import { redisKeys } from '@agentos/contracts';
import Redis from 'ioredis';
import { loadApiConfig } from '../../../services/api/src/config';
import { startApiService, type ApiService } from '../../../services/api/src/service';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { startTcpProxy } from '../../../test/support/tcp-proxy';
import { TEST_SECRET } from '../../../test/support/tokens';
import { waitFor } from '../../../test/support/wait';

const TOKEN = 'publisher-test-token-0123456789';

/** One request the publisher made: how many events, and what came back. */
interface Call {
  events: { id: string; name: string }[];
  /** `pending` until the answer (or the failure) comes. */
  status: number | 'network_error' | 'pending';
  at: number;
}

/** The real fetch, recording every request (the publisher's `fetch` option). */
function recordingFetch(calls: Call[], tamper?: (call: Call, res: Response) => void): typeof fetch {
  return async (input, init) => {
    const call: Call = { events: JSON.parse(String(init!.body)).events, status: 'pending', at: Date.now() };
    calls.push(call);
    let res: Response;
    try {
      res = await fetch(input, init);
    } catch (error) {
      call.status = 'network_error';
      throw error;
    }
    call.status = res.status;
    tamper?.(call, res);
    return res;
  };
}

const job = () => ({ job_id: randomUUID(), queue: 'default', type: 'render' });

describe('EventPublisher against a real api', () => {
  let redis: Redis;
  let api: ApiService;
  let baseUrl: string;
  let keys: ReturnType<typeof redisKeys>;
  let namespace: string;
  const publishers: EventPublisher[] = [];

  async function startApi(env: Record<string, string> = {}) {
    namespace = uniqueNamespace('client');
    keys = redisKeys(namespace);
    api = await startApiService(
      loadApiConfig({
        REDIS_URL: TEST_REDIS_URL,
        SSOT_NAMESPACE: namespace,
        AUTH_JWT_SECRET: TEST_SECRET,
        LOG_LEVEL: 'silent',
        PORT: '0',
        INGEST_TOKENS: TOKEN,
        ...env,
      }),
      { listen: true },
    );
    const { port } = api.server!.address() as AddressInfo;
    expect(port).toBeGreaterThan(0);
    baseUrl = `http://127.0.0.1:${port}`;
  }

  const publisher = (options: Partial<ConstructorParameters<typeof EventPublisher>[0]> = {}) => {
    const p = new EventPublisher({ baseUrl, token: TOKEN, ...options });
    publishers.push(p);
    return p;
  };

  async function streamIds(): Promise<string[]> {
    const entries = await redis.xrange(keys.events, '-', '+');
    return entries.map(([, fields]) => (JSON.parse(fields[1]!) as { id: string }).id);
  }

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });
  afterEach(async () => {
    await Promise.all(publishers.splice(0).map((p) => p.close()));
    await api?.stop();
    await cleanupNamespace(namespace);
  });
  afterAll(() => {
    redis.disconnect();
  });

  it('sends 250 events in 3 requests, each event once, in order', async () => {
    await startApi();
    const calls: Call[] = [];
    const p = publisher({ fetch: recordingFetch(calls) });
    const ids = await Promise.all(Array.from({ length: 250 }, () => p.publish('job:created', job())));

    expect(calls.map((c) => c.events.length)).toEqual([100, 100, 50]);
    expect(calls.map((c) => c.status)).toEqual([202, 202, 202]);
    expect(new Set(ids).size).toBe(250);
    expect(await streamIds()).toEqual(ids);
    // Ids were assigned at publish: what was sent is what resolved.
    expect(calls.flatMap((c) => c.events.map((e) => e.id))).toEqual(ids);
  });

  it('delivers every event exactly once through a transient outage', async () => {
    await startApi();
    const proxy = await startTcpProxy('127.0.0.1', Number(new URL(baseUrl).port));
    try {
      const calls: Call[] = [];
      const p = publisher({ baseUrl: `http://127.0.0.1:${proxy.port}`, batchSize: 10, retryBaseMs: 50, fetch: recordingFetch(calls) });
      // A first event while all is well, so a kept-alive connection exists to be cut.
      await p.publish('job:created', job());

      proxy.cut();
      const published = Array.from({ length: 25 }, () => p.publish('job:processing', { ...job(), progress: 10 }));
      await waitFor(() => calls.filter((c) => c.status === 'network_error').length >= 2, { timeoutMs: 5000, message: 'failed attempts' });
      proxy.restore();
      const ids = await Promise.all(published);

      expect(calls.filter((c) => c.status === 'network_error').length).toBeGreaterThanOrEqual(2);
      const stored = await streamIds();
      expect(stored).toHaveLength(26);
      expect(stored.slice(1)).toEqual(ids);
    } finally {
      await proxy.close();
    }
  });

  it('counts a retry after a lost answer as a duplicate, not a second event', async () => {
    await startApi();
    const calls: Call[] = [];
    let lose = true;
    // The api takes the request, but its answer never reaches the publisher.
    const fetchLosingFirstAnswer: typeof fetch = async (input, init) => {
      const res = await recordingFetch(calls)(input, init);
      if (lose) {
        lose = false;
        await res.arrayBuffer();
        throw new TypeError('fetch failed: connection reset after the request was sent');
      }
      return res;
    };
    const p = publisher({ retryBaseMs: 10, fetch: fetchLosingFirstAnswer });
    const id = await p.publish('worker:offline', { worker_id: randomUUID(), reason: 'shutdown' });

    expect(calls.map((c) => c.status)).toEqual([202, 202]);
    expect(await streamIds()).toEqual([id]);
    const duplicates = (await api.registry.getSingleMetric('ssot_events_duplicates_total')!.get()).values[0]!.value;
    expect(duplicates).toBe(1);
  });

  it('rejects an invalid event with its problems and never retries it; its batch-mates still arrive', async () => {
    await startApi();
    const calls: Call[] = [];
    const p = publisher({ fetch: recordingFetch(calls) });

    const alone = p.publish('job:created', { ...job(), job_id: 'not an id' });
    await expect(alone).rejects.toBeInstanceOf(IngestError);
    const error = (await alone.catch((e: unknown) => e)) as IngestError;
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalid_request');
    expect(error.problems).toEqual([{ index: 0, field: 'payload.job_id', message: 'must contain no whitespace or control characters' }]);
    await p.flush();
    expect(calls.map((c) => c.status)).toEqual([400]);

    const good1 = p.publish('job:created', job());
    const bad = p.publish('queue:threshold_warning', { queue: 'default', pending: -1, threshold: 10 });
    const good2 = p.publish('job:created', job());
    await expect(bad).rejects.toMatchObject({
      status: 400,
      code: 'invalid_request',
      problems: [{ index: 1, field: 'payload.pending', message: 'Too small: expected number to be >=0' }],
    });
    const ids = await Promise.all([good1, good2]);
    expect(calls.map((c) => [c.status, c.events.length])).toEqual([[400, 1], [400, 3], [202, 2]]);
    expect(await streamIds()).toEqual(ids);
  });

  it('rejects at once on a wrong token (401), without retrying', async () => {
    await startApi();
    const calls: Call[] = [];
    const p = publisher({ token: 'not-an-ingest-token-0123456789', fetch: recordingFetch(calls) });
    await expect(p.publish('job:created', job())).rejects.toMatchObject({
      name: 'IngestError',
      status: 401,
      code: 'unauthorized',
      message: 'unauthorized',
    });
    expect(calls).toHaveLength(1);
    expect(await redis.xlen(keys.events)).toBe(0);
  });

  it('waits out a 429 for its Retry-After, then delivers', async () => {
    await startApi({ INGEST_RATE_LIMIT: '40' });
    const calls: Call[] = [];
    const p = publisher({ batchSize: 40, retryBaseMs: 10, fetch: recordingFetch(calls) });
    const ids = await Promise.all(Array.from({ length: 60 }, () => p.publish('job:completed', job())));

    const limited = calls.findIndex((c) => c.status === 429);
    expect(limited).toBeGreaterThan(0);
    // Retry-After: 1 was honoured although the backoff alone would have retried after ~10 ms.
    expect(calls[limited + 1]!.at - calls[limited]!.at).toBeGreaterThanOrEqual(950);
    expect(calls.at(-1)!.status).toBe(202);
    expect(await streamIds()).toEqual(ids);
  });

  it('refuses an event at once while maxQueuedEvents wait, and takes them again once the queue drains', async () => {
    await startApi();
    const p = publisher({ batchSize: 500, flushIntervalMs: 60_000, maxQueuedEvents: 20 });
    const queued = Array.from({ length: 20 }, () => p.publish('job:created', job()));
    const refused = await p.publish('job:created', job()).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(PublisherQueueFullError);
    expect(refused).toMatchObject({ code: 'queue_full', queuedEvents: 20 });
    await p.flush();
    expect(await streamIds()).toEqual(await Promise.all(queued));
    const again = p.publish('job:created', job());
    await p.flush();
    await expect(again).resolves.toEqual(expect.any(String));
    expect(() => publisher({ maxQueuedEvents: 0 })).toThrow('maxQueuedEvents must be an integer ≥ 1');
  });

  it('close() sends what is queued, then refuses new events', async () => {
    await startApi();
    const p = publisher({ flushIntervalMs: 60_000 });
    const pending = Array.from({ length: 5 }, () => p.publish('worker:heartbeat', { worker_id: randomUUID(), queues: ['default'], active_jobs: 0, concurrency: 2 }));
    await p.close();
    expect(await redis.xlen(keys.events)).toBe(5);
    expect(await streamIds()).toEqual(await Promise.all(pending));
    await expect(p.publish('job:created', job())).rejects.toBeInstanceOf(PublisherClosedError);
  });
});

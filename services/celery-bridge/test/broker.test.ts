import { createLogger } from '@agentos/runtime';
import Redis from 'ioredis';
import { startRedisServer } from '../../../test/support/redis-server';
import { waitFor } from '../../../test/support/wait';
import { EventSubscription } from '../src/broker';

// The event subscription's read pacing (CELERY_READ_INTERVAL_MS), against a redis-server of the
// test's own (so nobody else's pub/sub traffic shares the channels, and it can be restarted).

const DB = 3;
const CHANNEL = `/${DB}.celeryev/task.multi`;

/**
 * A subscription that records each message and the reads they came in: every message of one
 * socket read is delivered in one turn of the event loop, before any setImmediate callback, so a
 * "read" here is a run of messages with no setImmediate between them.
 */
function recorder(url: string, readIntervalMs: number) {
  const messages: string[] = [];
  const readSizes: number[] = [];
  let open = false;
  const subscription = new EventSubscription(`${url}/${DB}`, DB, {
    onMessage: (message) => {
      messages.push(message);
      if (!open) {
        open = true;
        readSizes.push(0);
        setImmediate(() => (open = false));
      }
      readSizes[readSizes.length - 1]! += 1;
    },
    onDisconnect: () => {},
    watch: { name: 'test', progress: () => {}, stop: () => {} },
    logger: createLogger('celery-bridge-test', 'silent'),
    name: 'celery-bridge-test:events',
    readIntervalMs,
  });
  return { subscription, messages, readSizes };
}

/** Publishes `count` messages `gapMs` apart (each on its own, as Celery does). */
async function publishSpread(redis: Redis, prefix: string, count: number, gapMs: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    await redis.publish(CHANNEL, `${prefix}-${i}`);
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
}

describe('EventSubscription read pacing', () => {
  let server: Awaited<ReturnType<typeof startRedisServer>>;
  let publisher: Redis;
  const subscriptions: EventSubscription[] = [];

  beforeAll(async () => {
    // No output buffer limit for pub/sub: the burst below is more than Redis lets a subscriber lag by default.
    server = await startRedisServer(['--client-output-buffer-limit', 'pubsub 0 0 0']);
    publisher = new Redis(server.url);
  });
  afterEach(async () => {
    await Promise.all(subscriptions.splice(0).map((s) => s.stop()));
  });
  afterAll(async () => {
    publisher.disconnect();
    await server.stop();
  });

  const subscribe = async (readIntervalMs: number) => {
    const r = recorder(server.url, readIntervalMs);
    subscriptions.push(r.subscription);
    await r.subscription.start();
    return r;
  };

  it('reads what arrives while it rests in one read, loses and reorders nothing, and reads at once after a quiet spell', async () => {
    const paced = await subscribe(200);
    const unpaced = await subscribe(0);
    // 60 messages 10 ms apart: 0.6 s, so three or four rests of 200 ms.
    await publishSpread(publisher, 'spread', 60, 10);
    const expected = Array.from({ length: 60 }, (_, i) => `spread-${i}`);
    await waitFor(() => (expect(paced.messages).toEqual(expected), true), { message: 'the paced subscription has all 60, in order' });
    await waitFor(() => (expect(unpaced.messages).toEqual(expected), true), { message: 'the unpaced one too' });
    expect(paced.readSizes.length).toBeLessThanOrEqual(6);
    // What the pacing saves: read as they come, nearly every message is a read of its own.
    expect(unpaced.readSizes.length).toBeGreaterThanOrEqual(30);

    // After a quiet spell longer than the rest, a message is read as it comes, not a rest later.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const sent = Date.now();
    await publisher.publish(CHANNEL, 'alone');
    await waitFor(() => (expect(paced.messages.at(-1)).toBe('alone'), true), { message: 'the lone message arrives' });
    expect(Date.now() - sent).toBeLessThan(150);
  });

  it('takes a burst of megabytes at once: a read that fills the socket\'s buffer is not followed by a rest', async () => {
    const paced = await subscribe(500);
    const body = 'x'.repeat(2000);
    const pipeline = publisher.pipeline();
    for (let i = 0; i < 8000; i += 1) pipeline.publish(CHANNEL, `${i}:${body}`);
    const sent = Date.now();
    await pipeline.exec();
    // 16 MB: one wake-up reads at most 2 MB (libuv: 32 reads of 64 KB), so with a rest after
    // every read this would take 8 rests of 500 ms, 4 s at least.
    await waitFor(() => (expect(paced.messages).toHaveLength(8000), true), { timeoutMs: 10_000, message: 'all 8,000 messages of the burst' });
    expect(Date.now() - sent).toBeLessThan(2000);
    expect(paced.readSizes.length).toBeGreaterThanOrEqual(8);
    expect(paced.messages.map((m) => Number(m.split(':')[0]))).toEqual(Array.from({ length: 8000 }, (_, i) => i));
  });

  it('paces the new connection after the broker restarts', async () => {
    const paced = await subscribe(200);
    await server.crash();
    await server.start();
    // Subscribed again as the broker sees it (its pattern count), not only as the client says.
    await waitFor(async () => paced.subscription.connected && Number(await publisher.pubsub('NUMPAT')) === 1, { timeoutMs: 10_000, message: 'subscribed again' });
    const before = paced.readSizes.length;
    await publishSpread(publisher, 'after', 60, 10);
    await waitFor(() => (expect(paced.messages.filter((m) => m.startsWith('after-'))).toHaveLength(60), true), { message: 'all 60 after the restart' });
    expect(paced.readSizes.length - before).toBeLessThanOrEqual(6);
  });
});

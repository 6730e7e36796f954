// startStreamConsumer's pacing (`minIntervalMs`, the dispatchers' EVENT_MIN_INTERVAL_MS) on a real
// Redis stream: under a trickle, the entries that arrive between two reads are handled together;
// with a backlog, full batches follow each other without waiting.
import { closeRedis, createLogger, createRedis, type Redis, startStreamConsumer, type StreamEntry } from '@agentos/runtime';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { waitFor } from '../../../test/support/wait';

jest.setTimeout(30_000);

const logger = createLogger('test', 'silent');
const namespace = uniqueNamespace('stream-consumer');
let redis: Redis;
const consumers: { stop(): Promise<void> }[] = [];
const blockingConnections: Redis[] = [];

beforeAll(() => {
  redis = createRedis(TEST_REDIS_URL, { name: 'test-stream-consumer', role: 'command' });
});
afterEach(async () => {
  await Promise.all(consumers.splice(0).map((consumer) => consumer.stop()));
  await closeRedis(...blockingConnections.splice(0));
});
afterAll(async () => {
  await closeRedis(redis);
  await cleanupNamespace(namespace);
});

/** A consumer on its own stream, recording the size of every batch it was handed. */
function consume(name: string, options: { batch: number; minIntervalMs: number }) {
  const stream = `${namespace}:${name}`;
  const rounds: number[] = [];
  const blocking = createRedis(TEST_REDIS_URL, { name: `test-${name}-blocking`, role: 'blocking' });
  blockingConnections.push(blocking);
  consumers.push(
    startStreamConsumer({
      stream,
      group: 'g',
      consumer: 'c1',
      blocking,
      redis,
      logger,
      blockMs: 200,
      ...options,
      async handle(entries: StreamEntry[]) {
        rounds.push(entries.length);
        return entries.map(([id]) => id);
      },
    }),
  );
  return { stream, rounds, handled: () => rounds.reduce((a, b) => a + b, 0) };
}

async function trickle(stream: string, count: number, everyMs: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    await redis.xadd(stream, '*', 'n', String(i));
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

describe('startStreamConsumer minIntervalMs', () => {
  it('hands a trickle over in few rounds when paced, one entry a round when not', async () => {
    const paced = consume('paced', { batch: 100, minIntervalMs: 250 });
    const unpaced = consume('unpaced', { batch: 100, minIntervalMs: 0 });
    // 40 entries over ~1 s on each stream: paced, a round every 250 ms at most.
    await Promise.all([trickle(paced.stream, 40, 25), trickle(unpaced.stream, 40, 25)]);
    await waitFor(() => paced.handled() === 40 && unpaced.handled() === 40, { message: 'every entry handled' });
    expect(paced.rounds.length).toBeLessThanOrEqual(8);
    expect(unpaced.rounds.length).toBeGreaterThan(20);
  });

  it('does not wait between full batches: a backlog drains at once', async () => {
    const stream = `${namespace}:backlog`;
    const pipeline = redis.pipeline();
    for (let i = 0; i < 1000; i += 1) pipeline.xadd(stream, '*', 'n', String(i));
    await pipeline.exec();
    // Paced at 10 s: ten full batches would take 100 s if full ones waited too.
    const backlog = consume('backlog', { batch: 100, minIntervalMs: 10_000 });
    await waitFor(() => backlog.handled() === 1000, { timeoutMs: 5000, message: 'the backlog handled in full batches' });
    expect(backlog.rounds).toEqual(Array(10).fill(100));
  });
});

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

/**
 * A consumer on its own stream, recording the size of every batch it was handed and, with
 * `onRead`, when each entry was told to it and when handed over.
 */
function consume(name: string, options: { batch: number; minIntervalMs: number; onRead?: boolean }) {
  const stream = `${namespace}:${name}`;
  const rounds: number[] = [];
  const told = new Map<string, number>();
  const handledAt = new Map<string, number>();
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
      batch: options.batch,
      minIntervalMs: options.minIntervalMs,
      onRead: options.onRead
        ? (entries: StreamEntry[]) => {
            for (const [id] of entries) told.set(id, Date.now());
          }
        : undefined,
      async handle(entries: StreamEntry[]) {
        rounds.push(entries.length);
        for (const [id] of entries) handledAt.set(id, Date.now());
        return entries.map(([id]) => id);
      },
    }),
  );
  return { stream, rounds, told, handledAt, handled: () => rounds.reduce((a, b) => a + b, 0) };
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

  it('with onRead, tells of each entry as it is read and still hands the interval\'s entries over together', async () => {
    const paced = consume('told', { batch: 100, minIntervalMs: 1000, onRead: true });
    const added = new Map<string, number>();
    // 30 entries over ~1.5 s: about two paced rounds, after the first two entries' own (the burst).
    for (let i = 0; i < 30; i += 1) {
      added.set(await redis.xadd(paced.stream, '*', 'n', String(i)) as string, Date.now());
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await waitFor(() => paced.handled() === 30, { message: 'every entry handled' });
    expect(paced.rounds.length).toBeLessThanOrEqual(4);
    expect(new Set(paced.handledAt.keys())).toEqual(new Set(added.keys()));
    // The first two entries are handled at once (the pacer's burst of two); every later one is
    // told of within a fraction of the interval, and handed over only when its interval is over.
    const [first, second, ...later] = [...added.keys()];
    expect([paced.told.has(first!), paced.told.has(second!)]).toEqual([false, false]);
    const toldAfterMs = later.map((id) => paced.told.get(id)! - added.get(id)!);
    expect(Math.max(...toldAfterMs)).toBeLessThan(500);
    const waitedMs = later.map((id) => paced.handledAt.get(id)! - paced.told.get(id)!);
    expect(Math.max(...waitedMs)).toBeGreaterThan(500);
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

// A dispatcher whose batches are paced (EVENT_MIN_INTERVAL_MS) still publishes each event's
// socket messages as soon as it reads the event: the persist waits for the interval, the
// websocket branch does not. Every event is still published once and persisted once.
import { randomUUID } from 'node:crypto';
import { type AgentEvent, type BroadcastMessage, redisKeys } from '@agentos/contracts';
import { createPrismaClient, createTestDatabase, seedReferenceDataset, type PrismaClient, type TestDatabase } from '@agentos/db';
import { appendEvents, EVENT_STREAM_MAXLEN, newEvent } from '@agentos/runtime';
import Redis from 'ioredis';
import { loadDispatcherConfig } from '../src/config';
import { startDispatcherService, type DispatcherService } from '../src/service';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { waitFor } from '../../../test/support/wait';

jest.setTimeout(60_000);

const namespace = uniqueNamespace('dispatcher-paced');
const keys = redisKeys(namespace);
const INTERVAL_MS = 1000;
let db: TestDatabase;
let prisma: PrismaClient;
let redis: Redis;
let subscriber: Redis;
let dispatcher: DispatcherService;
/** Event id → when each of its socket messages arrived (this process's clock). */
const published = new Map<string, number[]>();

beforeAll(async () => {
  db = await createTestDatabase('dispatcher_paced');
  await seedReferenceDataset(db.url, { jobs: 0, workers: 0, logs: 0 });
  prisma = createPrismaClient(db.url);
  redis = new Redis(TEST_REDIS_URL);
  subscriber = new Redis(TEST_REDIS_URL);
  await subscriber.subscribe(keys.broadcastChannel);
  subscriber.on('message', (_channel, message: string) => {
    const { data } = (JSON.parse(message) as BroadcastMessage).message as { data: { id?: string } };
    if (data.id) published.set(data.id, [...(published.get(data.id) ?? []), Date.now()]);
  });
  dispatcher = await startDispatcherService(
    loadDispatcherConfig({ REDIS_URL: TEST_REDIS_URL, SSOT_NAMESPACE: namespace, DATABASE_URL: db.url, LOG_LEVEL: 'silent', EVENT_MIN_INTERVAL_MS: String(INTERVAL_MS) }),
  );
});
afterAll(async () => {
  await dispatcher.stop();
  await prisma.$disconnect();
  await db.drop();
  await cleanupNamespace(namespace);
  redis.disconnect();
  subscriber.disconnect();
});

/** When the dispatcher's transaction that persisted each event started (PostgreSQL's clock, the same machine's). */
async function persistedAt(ids: string[]): Promise<Map<string, number>> {
  const rows = await prisma.$queryRawUnsafe<{ id: string; at: Date }[]>('SELECT id, processed_at AS at FROM processed_events WHERE id = ANY($1::text[])', ids);
  return new Map(rows.map((row) => [row.id, row.at.getTime()]));
}

const created = (): AgentEvent => newEvent('job:created', { job_id: randomUUID(), queue: 'pipeline', type: 'agent.step', agent: 'planner', user_id: randomUUID() });

it('publishes the socket messages of a paced batch when it reads them, before the batch is persisted', async () => {
  // The first two events are handled at once (idle, the pacer holds a burst of two); they spend it.
  const warmUp = [created(), created()];
  for (const event of warmUp) {
    await appendEvents(redis, keys, [event], EVENT_STREAM_MAXLEN);
    await waitFor(async () => (await persistedAt([event.id])).has(event.id), { message: 'a warm-up event persisted' });
  }

  // Five more inside the interval the second one started: each read (and published) as it comes,
  // persisted together.
  const paced: AgentEvent[] = [];
  for (let i = 0; i < 5; i += 1) {
    const event = created();
    paced.push(event);
    await appendEvents(redis, keys, [event], EVENT_STREAM_MAXLEN);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const ids = paced.map((e) => e.id);
  const persisted = await waitFor(
    async () => {
      const at = await persistedAt(ids);
      expect([...at.keys()].sort()).toEqual([...ids].sort());
      return at;
    },
    { message: 'every paced event persisted' },
  );
  for (const id of ids) {
    // Published once, and before the transaction that persisted it began.
    expect({ id, times: published.get(id)?.length }).toEqual({ id, times: 1 });
    expect(published.get(id)![0]).toBeLessThan(persisted.get(id)!);
  }
  // Not just before: the first of them came early in the interval, and its message did not wait
  // for the interval's end (unpaced publishing would put the two within milliseconds).
  expect(persisted.get(ids[0]!)! - published.get(ids[0]!)![0]!).toBeGreaterThan(INTERVAL_MS / 4);
  // Persisted together: one transaction, one start time.
  expect(new Set(persisted.values()).size).toBe(1);
  for (const event of warmUp) expect(published.get(event.id)).toHaveLength(1);
});

// How the bridge's reads become requests to the api. Every request is a dispatcher batch and a
// snapshot build in the SSOT, so a read that fits in one request must go as one, whatever
// INGEST_CONCURRENCY says (bench/bridge-bullmq.mjs measured twice the SSOT's work when it did not).
import { Queue } from 'bullmq';
import type Redis from 'ioredis';
import { type Stack, startStack } from '../../../test/e2e/harness';
import type { ServiceProcess } from '../../../test/support/processes';
import { TEST_REDIS_URL } from '../../../test/support/redis';
import { waitFor } from '../../../test/support/wait';
import { bullConnection, cleanupPrefix, spawnBridge, startIngestProxy, uniquePrefix } from './support';

jest.setTimeout(60_000);

const JOBS = 40;

let stack: Stack;
let connection: Redis;
let proxy: Awaited<ReturnType<typeof startIngestProxy>>;
let queue: Queue | undefined;
let bridge: ServiceProcess | undefined;
const prefix = uniquePrefix();

beforeAll(async () => {
  stack = await startStack({ redisUrl: TEST_REDIS_URL, gateways: 0, name: 'bullmq-requests', seed: false });
  connection = bullConnection();
  proxy = await startIngestProxy(stack.apiUrl);
});

afterAll(async () => {
  await queue?.close();
  await bridge?.stop();
  connection?.disconnect();
  await proxy?.close();
  await stack?.stop();
  await cleanupPrefix(prefix);
});

it('posts the events of one read in one request, with two requests allowed in flight', async () => {
  queue = new Queue('mail', { connection, prefix });
  bridge = await spawnBridge(stack, prefix, { BULLMQ_QUEUES: 'mail', INGEST_URL: proxy.url, INGEST_CONCURRENCY: '2' });

  // One MULTI: BullMQ writes all the entries before a reader can see any of them, so the bridge
  // reads them together (80 entries, `added` and `waiting` per job: under BULLMQ_READ_COUNT).
  const jobs = await queue.addBulk(Array.from({ length: JOBS }, (_, n) => ({ name: 'send', data: { user_id: `user-${n}` } })));
  const ids = new Set(jobs.map((job) => `mail:${job.id}`));
  await waitFor(async () => (await stack.prisma.job.count({ where: { source: 'bullmq' } })) === JOBS, { timeoutMs: 20_000, message: 'every job in the SSOT' });

  const carrying = proxy.requests().filter((events) => events.some((e) => e.job_id !== undefined && ids.has(e.job_id)));
  expect(carrying).toHaveLength(1);
  expect(carrying[0]!.filter((e) => e.name === 'job:created').map((e) => e.job_id).sort()).toEqual([...ids].sort());
});

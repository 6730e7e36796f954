// EVENT_STREAM_MAXLEN is honoured by every writer of the event stream, not only the api's ingest
// (which events.test.ts covers): the heartbeat sweeper, the health checks, and the events the
// dispatcher raises itself (threshold warnings, through appendEvents). Issue 8.
import { randomUUID } from 'node:crypto';
import { redisKeys } from '@agentos/contracts';
import { appendEvents, createLogger, newEvent } from '@agentos/runtime';
import Redis from 'ioredis';
import { startHealthChecks } from '../services/cache-warmer/src/health-check';
import { startHeartbeatSweeper } from '../services/dispatcher/src/heartbeat-sweeper';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from './support/redis';

/** Entries already on the stream before the writer under test adds its own. */
const BACKLOG = 500;
/** Approximate trimming (MAXLEN ~) removes whole stream nodes (100 entries by default): 10 leaves at most one node and a bit. */
const MAXLEN = 10;
const TRIMMED_AT_MOST = 110;

describe('every writer of the event stream trims it to EVENT_STREAM_MAXLEN', () => {
  const redis = new Redis(TEST_REDIS_URL);
  const logger = createLogger('test', 'silent');
  const namespaces: string[] = [];

  afterAll(async () => {
    await Promise.all(namespaces.map((ns) => cleanupNamespace(ns)));
    redis.disconnect();
  });

  async function backlogged() {
    const namespace = uniqueNamespace('maxlen');
    namespaces.push(namespace);
    const keys = redisKeys(namespace);
    const pipeline = redis.pipeline();
    for (let i = 0; i < BACKLOG; i += 1) pipeline.xadd(keys.events, '*', 'event', '{}');
    await pipeline.exec();
    expect(await redis.xlen(keys.events)).toBe(BACKLOG);
    return keys;
  }

  it('appendEvents (threshold warnings, tests)', async () => {
    const keys = await backlogged();
    await appendEvents(redis, keys, [newEvent('queue:threshold_warning', { queue: 'q', pending: 120, threshold: 100 })], MAXLEN);
    expect(await redis.xlen(keys.events)).toBeLessThanOrEqual(TRIMMED_AT_MOST);
  });

  it('the heartbeat sweeper', async () => {
    const keys = await backlogged();
    await redis.zadd(keys.workersLive, Date.now() - 600_000, randomUUID());
    const sweeper = startHeartbeatSweeper({ redis, keys, logger, instance: 'test', heartbeatTtlS: 120, intervalMs: 60_000, streamMaxLen: MAXLEN });
    try {
      expect(await sweeper.sweep()).toHaveLength(1);
    } finally {
      await sweeper.stop();
    }
    expect(await redis.xlen(keys.events)).toBeLessThanOrEqual(TRIMMED_AT_MOST);
  });

  it('the health checks', async () => {
    const keys = await backlogged();
    const checks = startHealthChecks({ redis, keys, logger, instance: 'test', intervalMs: 60_000, streamMaxLen: MAXLEN });
    try {
      expect(await checks.check()).not.toBeNull();
    } finally {
      await checks.stop();
    }
    expect(await redis.xlen(keys.events)).toBeLessThanOrEqual(TRIMMED_AT_MOST);
  });
});

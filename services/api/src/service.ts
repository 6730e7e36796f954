import { randomUUID } from 'node:crypto';
import type { RequestListener, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { authOptions, createHttpServer, createServiceContext, createTokenVerifier, healthHandler, httpServerOptions, type Logger, VersionWatcher } from '@agentos/runtime';
import type { Registry } from 'prom-client';
import { type ApiApp, createApp } from './app';
import { BulkCommands } from './bulk-commands';
import type { ApiConfig } from './config';
import { createPrismaClient } from '@agentos/db';
import { EventIngest } from './event-ingest';
import { IngestTokens } from './ingest-tokens';
import { JobService } from './jobs';
import { createApiMetrics } from './metrics';
import { dashboardHandler } from './dashboard';
import { securityHeaders } from './request-guard';
import { SnapshotStore } from './snapshot-store';

export const SERVICE_NAME = 'api';

/** This package's version, in the OpenAPI document. */
const API_VERSION: string = (require('../package.json') as { version: string }).version;

export interface ApiService {
  app: ApiApp;
  store: SnapshotStore;
  registry: Registry;
  logger: Logger;
  server?: Server;
  /** Rebuilds this replica asked for (tests count them across replicas). */
  rebuildRequests(): number;
  stop(): Promise<void>;
}

/** Wires one api process. Tests start several as replicas and drive `app` with supertest. */
export async function startApiService(
  config: Readonly<ApiConfig>,
  options: { listen?: boolean; logger?: Logger } = {},
): Promise<ApiService> {
  const ctx = createServiceContext(SERVICE_NAME, config, options);
  const { logger, keys, registry } = ctx;
  const metrics = createApiMetrics(registry);
  const redis = ctx.redis('command');
  const watcher = new VersionWatcher(ctx.redis('subscriber'), keys);
  await watcher.start();

  let rebuilds = 0;
  const store = new SnapshotStore({
    redis,
    watcher,
    keys,
    maxAgeMs: config.SNAPSHOT_MAX_AGE_MS,
    rebuildWaitMs: config.REBUILD_WAIT_MS,
    onRead: (source) => metrics.read(source),
    onRebuildRequested: () => {
      rebuilds += 1;
      metrics.rebuildRequests.inc();
    },
  });
  const verifier = createTokenVerifier(authOptions(config));
  const health = healthHandler({
    registry,
    watchdog: ctx.watchdog,
    readiness: {
      redis: () => redis.ping(),
      // Ready when it can serve a snapshot, which the collector builds from the database. The
      // database itself is left out on purpose: only the job routes read it, and a database
      // outage must not take the snapshot reads and ingest out of rotation with them.
      snapshot: async () => {
        if (!(await redis.exists(keys.snapshot, keys.lastGood))) throw new Error('no snapshot yet');
      },
    },
  });
  const prisma = config.DATABASE_URL ? createPrismaClient(config.DATABASE_URL, { poolMax: config.DB_POOL_MAX, applicationName: SERVICE_NAME }) : undefined;
  if (!prisma) logger.warn('DATABASE_URL is not set: the job routes (/api/admin/jobs…) answer 503');
  const jobs = prisma ? new JobService({ prisma, redis, keys, timeoutMs: config.REDIS_COMMAND_TIMEOUT_MS * 3 }) : undefined;
  const bulk =
    prisma && jobs
      ? new BulkCommands({ prisma, jobs, runner: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`, logger, batchSize: config.BULK_BATCH_SIZE, leaseMs: config.BULK_LEASE_MS })
      : undefined;
  const tokens = new IngestTokens(config.INGEST_TOKENS);
  if (tokens.size === 0) logger.warn('INGEST_TOKENS is empty: every POST /api/events is refused with 401 until ingest tokens are configured');
  const ingest = new EventIngest({
    redis,
    keys,
    streamMaxLen: config.EVENT_STREAM_MAXLEN,
    idTtlS: config.EVENT_ID_TTL_S,
    ratePerSecond: config.INGEST_RATE_LIMIT,
    timeoutMs: config.REDIS_COMMAND_TIMEOUT_MS * 3,
  });
  const app = createApp({
    store,
    verifier,
    metrics,
    health,
    logger,
    events: { tokens, ingest },
    jobs,
    bulk,
    corsOrigins: config.CORS_ORIGINS,
    version: API_VERSION,
    dashboard: dashboardHandler(config, logger),
  });
  ctx.heartbeat(redis);
  // Takes up bulk commands: new ones, and those a stopped replica (or this one, before a restart) left.
  bulk?.start();

  let server: Server | undefined;
  if (options.listen) {
    // Answers Node writes itself (a head too large, a malformed request) carry the same headers.
    server = createHttpServer(app, { ...httpServerOptions(config), headers: securityHeaders() });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(config.PORT, () => resolve());
    });
    // With PORT=0 the system picks the port: log (and let callers read) the real one.
    logger.info({ port: (server.address() as AddressInfo).port }, 'api listening');
  }

  return {
    app,
    store,
    registry,
    logger,
    server,
    rebuildRequests: () => rebuilds,
    async stop() {
      if (server) {
        server.closeIdleConnections();
        await new Promise((resolve) => server!.close(resolve));
      }
      store.close();
      // Before its connections close: the runner ends its batch and lets go of the bulk.
      await bulk?.stop();
      await watcher.stop();
      await ctx.close();
      await prisma?.$disconnect();
    },
  };
}

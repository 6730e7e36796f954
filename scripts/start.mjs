// `npm start`: the whole system on one machine, from nothing but Node and a redis-server binary.
//
//   data dir, dev auth ─┬→ embedded database (worker thread) → migrate, seed → services using it ─┐
//                       └→ Redis (found, or started) → the other services ────────────────────────┴→ ready → banner
//
// Everything it starts stops with it: Ctrl-C (or SIGTERM) stops the services, then the database,
// then the private Redis, and exits 0; a second Ctrl-C kills what is left. scripts/LAUNCHER.md
// describes what it honours; scripts/launcher/ holds the pieces.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { claimDataDir } from './launcher/data-dir.mjs';
import { dbPackageEntry, loadDbPackage, startEmbeddedPostgres } from './launcher/database.mjs';
import { resolveAuth } from './launcher/dev-auth.mjs';
import { createOutput } from './launcher/output.mjs';
import { isPortFree } from './launcher/ports.mjs';
import { redact, resolveRedis } from './launcher/redis.mjs';
import { seconds, Supervisor } from './launcher/supervisor.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The services, each on PORT_BASE + its offset (CONTRACT §1). Those not built are skipped. */
const SERVICES = [
  { name: 'api', offset: 0 },
  { name: 'realtime-gateway', offset: 1 },
  { name: 'collector', offset: 2 },
  { name: 'cache-warmer', offset: 3 },
  { name: 'dispatcher', offset: 4 },
  // The bridges stand on a job platform's side (CONTRACT §1): run only when their platform is named.
  { name: 'celery-bridge', offset: 5, when: 'CELERY_BROKER_URL' },
  { name: 'bullmq-bridge', offset: 6, when: 'BULLMQ_REDIS_URL' },
  // A simulated AgentOS platform posting to the api, so a first look shows a living system; a
  // client of the api, it starts once the api answers and stops before the services.
  { name: 'simulator', offset: 7, unless: '--no-sim', client: true },
];
/** How long to wait for the API's first 200 before saying so (the services keep running). */
const READY_TIMEOUT_MS = 30_000;
/** How long the services get to stop after SIGTERM before SIGKILL. */
const SERVICE_GRACE_MS = 10_000;
/**
 * A second signal this soon after the first is the same Ctrl-C, not a request to force: npm
 * forwards the terminal's SIGINT to its child, which can then receive it twice.
 */
const SAME_SIGNAL_MS = 500;

const env = process.env;
const output = createOutput();
const log = (message) => output.launcher(message);
const supervisor = new Supervisor({ output, onFatal: (message) => void shutdown(1, message) });
/** The api's clients (the simulator), stopped first: their last events (its workers going offline) still reach the api. */
const clients = new Supervisor({ output, onFatal: (message) => void shutdown(1, message) });

/** @type {Awaited<ReturnType<typeof startEmbeddedPostgres>> | null} */
let embeddedDatabase = null;
let releaseDataDir = null;
let shuttingDown = false;
let firstSignalAt = 0;

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => onSignal(signal));
process.on('uncaughtException', (error) => void shutdown(1, `launcher error: ${error.stack ?? error}`));
process.on('unhandledRejection', (error) => void shutdown(1, `launcher error: ${error?.stack ?? error}`));
// Whatever path leads out, no child outlives the launcher.
process.on('exit', () => {
  clients.killAll();
  supervisor.killAll();
});

main().catch((error) => void shutdown(1, error.message));

async function main() {
  const dataDir = resolve(env.SSOT_DATA_DIR || join(ROOT, '.data'));
  const services = SERVICES.filter((service) => (!service.when || env[service.when]) && !process.argv.includes(service.unless)).map((service) =>
    describeService(service, portBase()),
  );
  const built = services.filter((service) => service.built);
  if (built.length === 0) throw new Error('no service is built (services/*/dist/index.js): run `npm run build` first');
  const busy = [];
  for (const service of built) if (!(await isPortFree(service.port))) busy.push(`${service.port} (${service.name})`);
  if (busy.length > 0) throw new Error(`port ${busy.join(', ')} already in use: stop what holds it or set PORT_BASE`);
  const dbEntry = dbPackageEntry(ROOT);
  releaseDataDir = claimDataDir(dataDir);

  const auth = await resolveAuth(env, dataDir);
  log(`Data: ${dataDir}; ${describeAuth(auth.mode, dataDir)}`);
  supervisor.startWatchdog();
  clients.startWatchdog();

  // The slow steps overlap. The database, the longest, starts first, in a worker thread; meanwhile
  // @agentos/db loads, Redis is found or started, and the services that do not use the database start.
  const database = await openDatabase(dataDir);
  const dbPackage = loadDbPackage(dbEntry);
  const databaseReady = database.ready.then(() => migrateAndSeed(database.url, dbPackage));
  databaseReady.catch(() => {}); // awaited below; an early failure must not count as unhandled meanwhile
  const redis = await resolveRedis({
    env,
    dataDir,
    probeUrl: env.LAUNCHER_REDIS_PROBE_URL || 'redis://127.0.0.1:6379',
    supervisor,
    log,
  });
  const apiPort = services.find((service) => service.name === 'api').port;
  // The dashboard the api serves talks to the gateway on the next port: another origin, so the
  // gateway must allow it (CORS_ORIGINS; the default allows only its own).
  const gatewayOrigins = env.CORS_ORIGINS || `http://127.0.0.1:${apiPort},http://localhost:${apiPort}`;
  const gatewayPort = services.find((service) => service.name === 'realtime-gateway')?.port;
  const dashboardGateways = env.DASHBOARD_GATEWAY_URLS || (gatewayPort ? `http://127.0.0.1:${gatewayPort}` : '');
  const start = (list) => {
    for (const service of list) {
      (service.client ? clients : supervisor).startService(service.name, service.script, {
        cwd: service.dir,
        env: {
          ...env,
          ...auth.env,
          ...(service.name === 'realtime-gateway' ? { CORS_ORIGINS: gatewayOrigins } : {}),
          ...(service.name === 'api' ? { DASHBOARD_GATEWAY_URLS: dashboardGateways } : {}),
          // A bridge (or the simulator) posts to this api like any platform, with an ingest token this api takes.
          ...(service.name.endsWith('-bridge') || service.name === 'simulator'
            ? { INGEST_URL: env.INGEST_URL || `http://127.0.0.1:${apiPort}`, INGEST_TOKEN: env.INGEST_TOKEN || (auth.env.INGEST_TOKENS ?? env.INGEST_TOKENS ?? '').split(',')[0].trim() }
            : {}),
          PORT: String(service.port),
          REDIS_URL: redis.url,
          DATABASE_URL: database.url,
          ...database.env,
          LOG_LEVEL: env.LOG_LEVEL || 'info',
        },
      });
    }
    if (list.length > 0) log(`Services: started ${list.map((service) => `${service.name} :${service.port}`).join(', ')}`);
  };
  start(built.filter((service) => !service.usesDatabase && !service.client));
  await databaseReady;
  start(built.filter((service) => service.usesDatabase && !service.client));
  const skipped = services.filter((service) => !service.built).map((service) => service.name);
  if (skipped.length > 0) log(`Services: not built, skipped: ${skipped.join(', ')}`);

  const api = built.find((service) => service.name === 'api');
  // With the dev token the snapshot itself is the proof; without one, every service's readiness.
  const probes =
    api && auth.devToken
      ? [{ url: `http://127.0.0.1:${api.port}/api/admin/ssot`, headers: { authorization: `Bearer ${auth.devToken}` } }]
      : built.map((service) => ({ url: `http://127.0.0.1:${service.port}/readyz`, headers: {} }));
  const readyAfterMs = await waitUntilReady(probes);
  if (shuttingDown) return;
  // Not ready in time: the clients start all the same (they retry), as the services keep running.
  start(built.filter((service) => service.client));
  if (readyAfterMs === null) return;
  if (api) printBanner({ api, services: built, auth, dataDir, readyAfterMs });
  else log(`Ready in ${seconds(readyAfterMs)} (the api service is not built: no HTTP entry point)`);
}

/** The embedded PGlite, unless DATABASE_URL names a database. `ready` resolves once it serves. */
async function openDatabase(dataDir) {
  if (env.DATABASE_URL) {
    log(`Database: using ${redact(env.DATABASE_URL)} (DATABASE_URL)`);
    return { url: env.DATABASE_URL, ready: Promise.resolve(), env: {} };
  }
  const dir = join(dataDir, 'pglite');
  const database = await startEmbeddedPostgres({ root: ROOT, dir, onCrash: (error) => void shutdown(1, error.message) });
  embeddedDatabase = database;
  const ready = database.ready.then(({ created }) => {
    if (!shuttingDown) log(`Database: embedded PGlite at ${database.url} (${created ? 'created' : 'files'} in ${dir})`);
  });
  // PGlite's connections share one session: a statement one prepares, another would prepare again.
  return { url: database.url, ready, env: { DB_PREPARED_STATEMENTS: 'false' } };
}

/** Migrations, then the demo data if the database has no jobs yet. */
async function migrateAndSeed(url, dbPackage) {
  const migrated = await dbPackage.migrate(url, {
    log: (line) => line.startsWith('warning') && log(`Database: ${line}`),
  });
  log(
    migrated.applied.length > 0
      ? `Database: migrations applied (${migrated.applied.join(', ')})`
      : 'Database: migrations up to date',
  );
  if (typeof dbPackage.seedIfEmpty !== 'function') {
    log('Database: @agentos/db has no seedIfEmpty(): no demo data');
    return;
  }
  const { seeded, summary } = await dbPackage.seedIfEmpty(url, {});
  log(
    seeded
      ? `Database: demo data seeded (${summary.jobs} jobs in ${seconds(summary.elapsedMs)})`
      : `Database: ${summary.jobs} jobs already there, no demo data added`,
  );
}

/**
 * Polls every probe until each answers 200. Resolves to the milliseconds since the launcher
 * started, or to null past READY_TIMEOUT_MS (the services keep running) or on shutdown.
 */
async function waitUntilReady(probes) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const pending = new Set(probes);
  let last = 'no answer';
  while (!shuttingDown) {
    for (const probe of pending) {
      try {
        const response = await fetch(probe.url, { headers: probe.headers, signal: AbortSignal.timeout(2000) });
        await response.arrayBuffer();
        if (response.status === 200) pending.delete(probe);
        else last = `${probe.url}: HTTP ${response.status}`;
      } catch (error) {
        last = `${probe.url}: ${error.cause?.code ?? error.message}`;
      }
    }
    if (pending.size === 0) return performance.now();
    if (Date.now() > deadline) {
      log(`warning: not ready within ${seconds(READY_TIMEOUT_MS)} (last: ${last}); the services keep running`);
      return null;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return null;
}

function printBanner({ api, services, auth, dataDir, readyAfterMs }) {
  const base = `http://127.0.0.1:${api.port}`;
  const gateway = services.find((service) => service.name === 'realtime-gateway');
  const rule = output.paint('dim', '─'.repeat(72));
  const lines = [
    rule,
    `  ${output.paint('bold', 'AgentOS SSOT is running')} — ready in ${seconds(readyAfterMs)}`,
    '',
    // The dev token in the fragment: the browser keeps it for the tab and never sends it in a URL.
    `  dashboard   ${base}/${auth.devToken ? `#token=${auth.devToken}` : ''}`,
    `  snapshot    ${base}/api/admin/ssot`,
    ...(gateway ? [`  realtime    ws://127.0.0.1:${gateway.port} (socket.io, auth: {token})`] : []),
    `  events      POST ${base}/api/events (Authorization: Bearer <ingest token>)`,
    ...services
      .filter((service) => service.name.endsWith('-bridge'))
      .map((service) => `  ${service.name.padEnd(11)} :${service.port} feeding the SSOT from ${service.name === 'celery-bridge' ? `CELERY_BROKER_URL ${redact(env.CELERY_BROKER_URL)}` : `BULLMQ_REDIS_URL ${redact(env.BULLMQ_REDIS_URL)}`}`),
    ...services
      .filter((service) => service.name === 'simulator')
      .map((service) => `  simulator   :${service.port} a simulated AgentOS platform posting to the api (npm start -- --no-sim: without it)`),
    ...(process.argv.includes('--no-sim') ? ['  simulator   off (--no-sim): the numbers move only with the events you post'] : []),
    '',
  ];
  if (auth.devToken) {
    lines.push(
      '  Development admin token (sub dev-admin, role admin, valid 30 days):',
      `  token: ${auth.devToken}`,
      ...(env.INGEST_TOKENS ? [] : [`  ingest token: ${auth.env.INGEST_TOKENS}`]),
      '',
      `  curl -H "Authorization: Bearer ${auth.devToken}" ${base}/api/admin/ssot`,
    );
  } else {
    const how = auth.mode === 'jwks' ? 'verified against AUTH_JWKS_URL' : 'verified with your AUTH_JWT_SECRET';
    lines.push(
      `  Tokens are ${how}: bring an admin token (claims sub, role: admin).`,
      '',
      `  curl -H "Authorization: Bearer $TOKEN" ${base}/api/admin/ssot`,
    );
  }
  lines.push('', `  Data in ${dataDir} (remove it to start over). Ctrl-C stops everything.`, rule);
  output.plain(lines.join('\n'));
}

function onSignal(signal) {
  if (!shuttingDown) {
    firstSignalAt = Date.now();
    log(`${signal}: stopping (press Ctrl-C again to force)`);
    void shutdown(0);
    return;
  }
  if (Date.now() - firstSignalAt < SAME_SIGNAL_MS) return;
  log(`${signal} again: killing everything`);
  clients.killAll();
  supervisor.killAll();
  releaseDataDir?.();
  process.exit(1);
}

/** Stops everything in order — services, database, Redis — and exits with `code`. */
async function shutdown(code, reason) {
  if (shuttingDown) return;
  shuttingDown = true;
  firstSignalAt ||= Date.now();
  if (reason) log(code === 0 ? reason : `error: ${reason}`);
  try {
    await clients.stopServices(SERVICE_GRACE_MS);
    await supervisor.stopServices(SERVICE_GRACE_MS);
    await embeddedDatabase?.stop();
    await supervisor.stopAll();
  } catch (error) {
    log(`error while stopping: ${error.message}`);
    code ||= 1;
  }
  supervisor.stopWatchdog();
  clients.stopWatchdog();
  releaseDataDir?.();
  log(code === 0 ? 'stopped' : `stopped (exit ${code})`);
  process.exit(code);
}

function portBase() {
  const value = Number(env.PORT_BASE || 3000);
  if (!Number.isInteger(value) || value < 1 || value > 65535 - 4) {
    throw new Error(`PORT_BASE must be an integer from 1 to 65531 (got ${env.PORT_BASE})`);
  }
  return value;
}

function describeService({ name, offset, client = false }, base) {
  const dir = join(ROOT, 'services', name);
  const script = join(dir, 'dist', 'index.js');
  const built = existsSync(script);
  // A service that depends on @agentos/db waits until the database is migrated and seeded; the
  // others start while that happens.
  const manifest = built ? JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) : {};
  const usesDatabase = Boolean(manifest.dependencies?.['@agentos/db']);
  return { name, dir, script, port: base + offset, built, usesDatabase, client };
}

function describeAuth(mode, dataDir) {
  if (mode === 'jwks') return 'auth: tokens verified against AUTH_JWKS_URL';
  if (mode === 'secret') return 'auth: AUTH_JWT_SECRET from the environment';
  return `auth: development secret in ${join(dataDir, 'dev-secret')}`;
}

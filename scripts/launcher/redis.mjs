import { accessSync, constants, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.mjs';

const HOW_TO_GET_REDIS = [
  'Redis 7 is needed. Any of:',
  '  apt-get install redis-server        (Debian/Ubuntu: the launcher starts its own from PATH)',
  '  brew install redis                  (macOS: likewise)',
  '  docker run -d -p 6379:6379 redis:7  (then npm start finds it on 127.0.0.1:6379)',
  '  REDIS_URL=redis://host:port npm start',
].join('\n');

/**
 * Finds the Redis the services will use (CONTRACT §2 REDIS_URL): the one in REDIS_URL, else one
 * already answering at `probeUrl`, else a private redis-server on a free port, run as a child of
 * the launcher with its files under `<data>/redis` and nothing persisted.
 *
 * @returns {Promise<{url: string, private?: {port: number, run: object}}>} `private` when we started it
 */
export async function resolveRedis({ env, dataDir, probeUrl, supervisor, log }) {
  if (env.REDIS_URL) {
    const problem = await pingProblem(env.REDIS_URL, 3000);
    if (problem) throw new Error(`REDIS_URL ${redact(env.REDIS_URL)} does not answer PING: ${problem}`);
    log(`Redis: using ${redact(env.REDIS_URL)} (REDIS_URL)`);
    return { url: env.REDIS_URL };
  }
  if ((await pingProblem(probeUrl, 1000)) === '') {
    log(`Redis: using ${redact(probeUrl)} (already running)`);
    return { url: probeUrl };
  }
  const binary = findOnPath('redis-server');
  if (!binary) throw new Error(`no Redis answers at ${redact(probeUrl)} and redis-server is not on PATH.\n${HOW_TO_GET_REDIS}`);

  const dir = join(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  // Another process can take the free port before redis-server binds it: then it exits, and we
  // try another port.
  let problem = 'it exited';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const run = supervisor.startAuxiliary('redis', binary, [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--save', '',
      '--appendonly', 'no',
      '--daemonize', 'no',
      // Its start-up notices would drown the services' lines; they are in the file if needed.
      '--logfile', join(dir, 'redis.log'),
    ]);
    const url = `redis://127.0.0.1:${port}`;
    const deadline = Date.now() + 5000;
    const running = () => run.child.exitCode === null && run.child.signalCode === null;
    while (Date.now() < deadline && running()) {
      problem = await pingProblem(url, 500);
      if (!problem) {
        run.critical = true;
        log(`Redis: started redis-server on 127.0.0.1:${port} (private; log in ${join(dir, 'redis.log')})`);
        return { url, private: { port, run } };
      }
      await delay(50);
    }
    const exited = !running();
    await supervisor.stopAuxiliary(run);
    if (!exited) break;
    problem = 'it exited';
  }
  throw new Error(`redis-server did not start (${problem}; see ${join(dir, 'redis.log')}).\n${HOW_TO_GET_REDIS}`);
}

/** Resolves to '' when `url` answers PING within `timeoutMs`, else to what went wrong. */
async function pingProblem(url, timeoutMs) {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // The socket's own error (ECONNREFUSED, ENOTFOUND, WRONGPASS …) says more than the rejection.
  let cause;
  redis.on('error', (error) => (cause ??= error));
  try {
    await redis.connect();
    const answer = await redis.ping();
    return answer === 'PONG' ? '' : `answered ${answer}`;
  } catch (error) {
    return (cause ?? error).message || String(cause ?? error);
  } finally {
    redis.disconnect();
  }
}

function findOnPath(command) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** The URL without its password, for messages. */
export function redact(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

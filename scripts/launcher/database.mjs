import { existsSync } from 'node:fs';
import { templateDir } from './pglite-template.mjs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * Starts the embedded PostgreSQL (PGlite, files in `dir`). Resolves as soon as its port is known,
 * with `ready`, which resolves once it serves.
 *
 * It runs in a worker thread of the launcher rather than on its main thread or in a child process:
 * - not a child process, because the database must never outlive the launcher. An orphaned
 *   PGlite would keep the data directory open, and the next `npm start` would open the same files
 *   from a second process and corrupt them; a thread dies with the process however it dies.
 * - not the main thread, because PGlite executes every query synchronously (WebAssembly): there
 *   a heavy query would stall the launcher's log relay, its signal handling and the migrate/seed
 *   client talking to the database, and it could not use a second core.
 *
 * @param {{root: string, dir: string, onCrash: (error: Error) => void}} options `onCrash` is called
 *   if the database stops, after it started, without being asked to.
 * @returns {Promise<{url: string, ready: Promise<{created: boolean}>, stop: () => Promise<void>}>}
 */
export async function startEmbeddedPostgres({ root, dir, onCrash }) {
  const worker = new Worker(new URL('./pglite-worker.mjs', import.meta.url), {
    workerData: { dir, template: templateDir(root) },
  });
  let stopping = false;
  let started = false;
  let portKnown;
  const port = new Promise((resolve, reject) => (portKnown = { resolve, reject }));
  const ready = new Promise((resolve, reject) => {
    worker.on('message', (message) => {
      if (message.type === 'port') portKnown.resolve(message.port);
      if (message.type === 'listening') {
        started = true;
        resolve({ created: message.created });
      }
    });
    const fail = (error) => {
      portKnown.reject(error);
      reject(error);
      if (started && !stopping) onCrash(error);
    };
    worker.on('error', (error) => fail(new Error(`the embedded database failed: ${error.message}`)));
    worker.on('exit', (code) => fail(new Error(`the embedded database stopped unexpectedly (exit ${code})`)));
  });
  ready.catch(() => {}); // the caller awaits it; meanwhile a failure must not count as unhandled

  return {
    url: `postgresql://postgres@127.0.0.1:${await port}/postgres`,
    ready,
    async stop(graceMs = 10_000) {
      if (stopping) return;
      stopping = true;
      // Still starting: initdb cannot be interrupted cleanly, so let it finish first.
      await ready.catch(() => {});
      if (!started) return;
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage('stop');
      const force = setTimeout(() => void worker.terminate(), graceMs);
      await exited;
      clearTimeout(force);
    },
  };
}

/** Where the compiled `@agentos/db` is: the launcher runs after the build, as plain JavaScript. */
export function dbPackageEntry(root) {
  const entry = join(root, 'packages', 'db', 'dist', 'index.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`);
  return entry;
}

/** The compiled `@agentos/db`, for its `migrate` and `seedIfEmpty`. */
export function loadDbPackage(entry) {
  const db = createRequire(import.meta.url)(entry);
  if (typeof db.migrate !== 'function') throw new Error('@agentos/db does not export migrate()');
  return db;
}

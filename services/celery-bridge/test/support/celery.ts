// A real Celery cluster for the celery-bridge's tests: Debian's python3-celery (`.ci/run`
// installs it) running test/fixtures/bridge_app.py, a worker as a process of its own, and the
// fixtures' client scripts for sending tasks and reading Celery's own results.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../../../test/support/wait';

/** Debian's interpreter: the `python3` first on PATH may be another one, without Debian's packages. */
export const PYTHON = '/usr/bin/python3';
export const FIXTURES = join(__dirname, '..', 'fixtures');

export interface CeleryUrls {
  /** The broker, with its database (its number names the event channels). */
  broker: string;
  /** The result backend: Celery's own account of each task. */
  results: string;
}

function pythonEnv(urls: CeleryUrls): NodeJS.ProcessEnv {
  // No __pycache__ written into the source tree.
  return { PATH: process.env.PATH ?? '', PYTHONDONTWRITEBYTECODE: '1', CELERY_BROKER_URL: urls.broker, CELERY_RESULT_URL: urls.results };
}

export interface CeleryWorker {
  /** Celery's name for it, `name@host`: its `hostname` in every event. */
  hostname: string;
  child: ChildProcess;
  output(): string;
  /**
   * Celery's own runtime of each task that succeeded, seconds, as its log says it (`Task
   * name[id] succeeded in 0.0092s: …`, the same value its task-succeeded event carries).
   */
  runtimes(): Map<string, number>;
  /** SIGTERM (Celery's warm shutdown: it says worker-offline); resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * `celery -A bridge_app worker -E` on `queues`; resolves once it says it is ready. Prefork with
 * `concurrency` processes: a revoke with terminate needs a pool process to kill (solo runs the
 * task in the worker itself and reads no control message until it ends).
 */
export async function startWorker(urls: CeleryUrls, options: { name: string; queues: readonly string[]; concurrency: number; extra?: readonly string[] }): Promise<CeleryWorker> {
  const name = `${options.name}@${hostname()}`;
  const child = spawn(
    PYTHON,
    ['-m', 'celery', '-A', 'bridge_app', 'worker', '-E', '-P', 'prefork', '-c', String(options.concurrency), '-Q', options.queues.join(','), '-n', name, '-l', 'info', '--without-mingle', ...(options.extra ?? [])],
    { cwd: FIXTURES, env: pythonEnv(urls), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // All of it (bounded): the runtimes are read from it at the end.
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-5_000_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const worker: CeleryWorker = {
    hostname: name,
    child,
    output: () => output,
    runtimes() {
      const runtimes = new Map<string, number>();
      for (const [, id, seconds] of output.matchAll(/Task \S+\[([^\]]+)\] succeeded in ([0-9.e+-]+)s:/g)) runtimes.set(id!, Number(seconds));
      return runtimes;
    },
    async stop() {
      if (!alive()) return exited;
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(force);
      return code;
    },
  };
  try {
    await waitFor(
      () => {
        if (!alive()) throw new Error(`the Celery worker exited with ${child.exitCode ?? child.signalCode}:\n${output}`);
        return output.includes(`${name} ready.`);
      },
      { timeoutMs: 20_000, intervalMs: 50, message: `Celery worker ${name} ready` },
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return worker;
}

function runPython(script: string, urls: CeleryUrls, input: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = execFile(PYTHON, [script], { cwd: FIXTURES, env: pythonEnv(urls), maxBuffer: 64 * 1024 * 1024, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${script} failed: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout));
    });
    child.stdin!.end(JSON.stringify(input));
  });
}

export interface PlannedTask {
  task: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  queue?: string;
}

/** Sends the tasks as a Celery client; resolves with their ids, in order. */
export function submit(urls: CeleryUrls, plan: readonly PlannedTask[]): Promise<string[]> {
  return runPython('submit.py', urls, plan) as Promise<string[]>;
}

/** Celery's own account of a task (AsyncResult with `result_extended`). */
export interface CeleryResult {
  state: 'PENDING' | 'STARTED' | 'RETRY' | 'SUCCESS' | 'FAILURE' | 'REVOKED';
  name: string | null;
  queue: string | null;
  retries: number | null;
  args: unknown[] | null;
  /** What the task returned: bridge_app's tasks return the seconds they ran. */
  result: unknown;
  /** The exception's repr, for FAILURE and REVOKED. */
  error: string | null;
}

export function results(urls: CeleryUrls, ids: readonly string[]): Promise<Record<string, CeleryResult>> {
  return runPython('results.py', urls, ids) as Promise<Record<string, CeleryResult>>;
}

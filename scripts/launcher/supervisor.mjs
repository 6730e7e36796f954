import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** A run shorter than this that ends on its own counts as a quick failure. */
const QUICK_FAILURE_MS = 10_000;
/** Quick failures in a row after which a service is given up on (and everything stops). */
const MAX_QUICK_FAILURES = 5;
/** Wait before the first restart; doubled for each quick failure in a row (0.5, 1, 2, 4 s). */
const FIRST_BACKOFF_MS = 500;

/**
 * Starts, relays, restarts and stops the launcher's child processes.
 *
 * Every child leads its own process group (`detached`), so a Ctrl-C in the terminal reaches only
 * the launcher, which then stops things in order: services first, then the database they write
 * to, then Redis. A watchdog process (watchdog.mjs) kills the groups if the launcher itself is
 * killed before it can.
 */
export class Supervisor {
  /** @type {Set<Run>} */
  #runs = new Set();
  /** @type {Map<string, {run: Run | null, failures: number, timer?: NodeJS.Timeout}>} */
  #services = new Map();
  #watchdog = null;
  #stopping = false;

  /**
   * @param {{output: ReturnType<import('./output.mjs').createOutput>, onFatal: (message: string) => void}} options
   *   `onFatal` is called when a service is given up on or an auxiliary process (Redis) dies.
   */
  constructor({ output, onFatal }) {
    this.output = output;
    this.onFatal = onFatal;
  }

  startWatchdog() {
    const watchdog = spawn(process.execPath, [fileURLToPath(new URL('./watchdog.mjs', import.meta.url))], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    watchdog.unref();
    watchdog.stdin.unref();
    watchdog.stdin.on('error', () => {});
    this.#watchdog = watchdog;
  }

  /** Closes the watchdog's stdin: it exits, killing whatever group is still listed (none after a clean stop). */
  stopWatchdog() {
    this.#watchdog?.stdin.end();
  }

  /**
   * Runs `node <script>` as service `name` and keeps it running: an exit that was not asked for
   * is reported and followed by a restart with backoff, until MAX_QUICK_FAILURES in a row.
   */
  startService(name, script, { cwd, env }) {
    const state = { run: null, failures: 0, timer: undefined };
    this.#services.set(name, state);
    const launch = () => {
      state.timer = undefined;
      const run = this.#spawn(name, process.execPath, [script], { cwd, env });
      state.run = run;
      run.exited.then(({ code, signal }) => {
        state.run = null;
        if (this.#stopping) return;
        const ranMs = Date.now() - run.startedAt;
        state.failures = ranMs < QUICK_FAILURE_MS ? state.failures + 1 : 1;
        const how = `${name} exited (${describeExit(code, signal)}) after ${seconds(ranMs)}`;
        if (state.failures >= MAX_QUICK_FAILURES) {
          this.onFatal(`${how}: ${MAX_QUICK_FAILURES} quick failures in a row, giving up`);
          return;
        }
        const waitMs = FIRST_BACKOFF_MS * 2 ** (state.failures - 1);
        this.output.launcher(`${how}; restarting in ${seconds(waitMs)} (${state.failures}/${MAX_QUICK_FAILURES})`);
        state.timer = setTimeout(launch, waitMs);
      });
    };
    launch();
  }

  /**
   * A helper process (the private redis-server), not restarted. Once the caller marks it
   * `critical` (it is in use), its death is fatal.
   */
  startAuxiliary(name, command, args) {
    const run = this.#spawn(name, command, args, {});
    run.exited.then(({ code, signal }) => {
      if (run.critical && !this.#stopping && !run.stopRequested) {
        this.onFatal(`${name} exited unexpectedly (${describeExit(code, signal)})`);
      }
    });
    return run;
  }

  async stopAuxiliary(run, graceMs = 5000) {
    run.stopRequested = true;
    await this.#terminate([run], graceMs);
  }

  /** SIGTERM to every service, SIGKILL to those still running after `graceMs`; no restarts from now on. */
  async stopServices(graceMs = 10_000) {
    this.#stopping = true;
    for (const state of this.#services.values()) clearTimeout(state.timer);
    const runs = [...this.#services.values()].map((state) => state.run).filter(Boolean);
    await this.#terminate(runs, graceMs);
  }

  /** Stops whatever still runs (the auxiliaries, once the services are down). */
  async stopAll(graceMs = 5000) {
    this.#stopping = true;
    await this.#terminate([...this.#runs], graceMs);
  }

  /** Last resort (second Ctrl-C, exit): SIGKILL every group still running, synchronously. */
  killAll() {
    this.#stopping = true;
    for (const run of this.#runs) signalGroup(run.child, 'SIGKILL');
  }

  #spawn(name, command, args, { cwd, env }) {
    // Start-up steps still in flight when a stop begins must not add processes behind it.
    if (this.#stopping) throw new Error(`not starting ${name}: stopping`);
    const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    /** @typedef {{name: string, child: import('node:child_process').ChildProcess, startedAt: number, exited: Promise<{code: number | null, signal: string | null}>, closed: Promise<void>, critical?: boolean, stopRequested?: boolean}} Run */
    const run = {
      name,
      child,
      startedAt: Date.now(),
      // A child that could not be spawned has no exit, only an error: both end the run.
      exited: new Promise((resolve) => {
        child.once('exit', (code, signal) => resolve({ code, signal }));
        child.once('error', (error) => {
          this.output.launcher(`${name}: ${error.message}`);
          if (child.pid === undefined) resolve({ code: null, signal: null });
        });
      }),
      // 'close' comes after the output pipes are drained.
      closed: new Promise((resolve) => child.once('close', () => resolve())),
    };
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.output.child(name, line));
    }
    if (child.pid !== undefined) {
      this.#runs.add(run);
      this.#tellWatchdog(`+${child.pid}`);
      run.exited.then(() => {
        this.#runs.delete(run);
        this.#tellWatchdog(`-${child.pid}`);
      });
    }
    return run;
  }

  async #terminate(runs, graceMs) {
    const live = runs.filter((run) => this.#runs.has(run));
    for (const run of live) signalGroup(run.child, 'SIGTERM');
    const force = setTimeout(() => {
      for (const run of live) {
        if (!this.#runs.has(run)) continue;
        this.output.launcher(`${run.name} did not stop within ${seconds(graceMs)}: killing it`);
        signalGroup(run.child, 'SIGKILL');
      }
    }, graceMs);
    await Promise.all(live.map((run) => run.exited));
    clearTimeout(force);
    // Let their last lines through, without waiting on a pipe some grandchild may still hold.
    await Promise.race([Promise.all(live.map((run) => run.closed)), delay(1000)]);
  }

  #tellWatchdog(line) {
    if (this.#watchdog?.stdin.writable) this.#watchdog.stdin.write(`${line}\n`);
  }
}

function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

function describeExit(code, signal) {
  return signal ? `signal ${signal}` : `code ${code}`;
}

export function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

// The bench:realtime processes talk over Node's IPC channel: the orchestrator forks a helper
// (load generator, socket clients, Redis tap, bare ws server) and calls its handlers by name.
// Structured-clone serialization, so typed arrays of millions of receipts travel as bytes, not
// as JSON. Every helper dies with the orchestrator, however it ends.
import { fork } from 'node:child_process';
import { once } from 'node:events';

const helpers = new Set();
process.on('exit', () => {
  for (const child of helpers) child.kill('SIGKILL');
});

/**
 * Forks `script` and returns `{ pid, call(cmd, args), stop() }`. `call` resolves with the
 * handler's answer, or rejects with its error (and when the helper exits first). `nice` (e.g.
 * -10) starts it through nice(1), every thread at that priority; without the privilege nice
 * warns and runs it at the normal one (check with os.getPriority).
 */
export function forkHelper(script, label, { env, nice } = {}) {
  // Helpers with thousands of sockets need more than the default heap for their receipts.
  const nodeArgs = ['--max-old-space-size=4096'];
  const child = fork(script, [], {
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
    ...(nice === undefined ? { execArgv: nodeArgs } : { execPath: 'nice', execArgv: ['-n', String(nice), process.execPath, ...nodeArgs] }),
  });
  helpers.add(child);
  const waiting = new Map();
  let next = 0;
  let exited = null;
  child.on('message', (message) => {
    const pending = waiting.get(message?.id);
    if (!pending) return;
    waiting.delete(message.id);
    if (message.ok) pending.resolve(message.result);
    else pending.reject(new Error(`${label}: ${message.error}`));
  });
  child.on('exit', (code, signal) => {
    helpers.delete(child);
    exited = { code, signal };
    for (const pending of waiting.values()) pending.reject(new Error(`${label} exited (${signal ?? code})`));
    waiting.clear();
  });
  return {
    label,
    pid: child.pid,
    child,
    call(cmd, args = {}) {
      if (exited) return Promise.reject(new Error(`${label} has exited (${exited.signal ?? exited.code})`));
      const id = ++next;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.send({ id, cmd, args });
      });
    },
    /** Asks the helper to close what it holds and exit; kills it after `graceMs`. */
    async stop(graceMs = 10_000) {
      if (exited) return;
      const gone = once(child, 'exit');
      child.send({ id: 0, cmd: 'exit', args: {} }, () => {});
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
}

/**
 * The helper side: answers `{id, cmd, args}` with `handlers[cmd](args)`. `exit` runs
 * `handlers.exit` (if any) and ends the process. A helper whose parent is gone exits too.
 */
export function serveHelper(handlers) {
  process.on('message', async ({ id, cmd, args }) => {
    if (cmd === 'exit') {
      try {
        await handlers.exit?.();
      } finally {
        process.exit(0);
      }
    }
    try {
      const handler = handlers[cmd];
      if (!handler) throw new Error(`unknown command ${cmd}`);
      const result = await handler(args);
      process.send({ id, ok: true, result });
    } catch (error) {
      process.send({ id, ok: false, error: error?.stack ?? String(error) });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

// How long each process's main thread was ready to run but waited for a core, from
// /proc/<pid>/schedstat (Linux: time on a CPU, time waiting on a run queue, in ns). For Node
// processes the main thread is the event loop, so this is the share of a latency that is no
// process's own work: the machine had no core free for it. Also the machine's CPU time by kind:
// per-process CPU time leaves out the kernel's softirq work (here: the loopback TCP of every
// message). Elsewhere (or without schedstats): null.
import { readdirSync, readFileSync } from 'node:fs';

/** The machine's CPU time by kind (/proc/stat, USER_HZ ticks): softirq is the kernel's network work. */
function readMachine() {
  const [, ...v] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  return { user: v[0] + v[1], system: v[2], idle: v[3], iowait: v[4], irq: v[5], softirq: v[6], steal: v[7] };
}

function read() {
  const out = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const [run, wait] = readFileSync(`/proc/${name}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      out.set(Number(name), { run, wait, comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return out;
}

/**
 * @param {() => Promise<Record<number, string>>} labels pid → label (asked at `stop`); other
 *   `redis-server` and `postgres` processes are grouped by name, the rest is left out.
 */
export function schedSampler(labels) {
  let start;
  return {
    start() {
      try {
        start = { t: performance.now(), procs: read(), machine: readMachine() };
      } catch {
        start = null;
      }
    },
    async stop() {
      if (!start) return null;
      const seconds = (performance.now() - start.t) / 1000;
      const now = read();
      const machine = readMachine();
      const names = await labels();
      const sums = {};
      for (const [pid, { run, wait, comm }] of now) {
        const before = start.procs.get(pid);
        const label = names[pid] ?? (comm === 'redis-server' || comm === 'postgres' ? comm : null);
        if (!label) continue;
        const entry = (sums[label] ??= { running: 0, waiting: 0 });
        entry.running += run - (before?.run ?? 0);
        entry.waiting += wait - (before?.wait ?? 0);
      }
      const perS = (ns) => Math.round((ns / 1e9 / seconds) * 100) / 100;
      const threads = Object.fromEntries(
        Object.entries(sums)
          .map(([k, v]) => [k, { running: perS(v.running), waiting: perS(v.waiting) }])
          .filter(([, v]) => v.running > 0 || v.waiting > 0)
          .sort((a, b) => b[1].waiting - a[1].waiting),
      );
      // Cores by kind; 100 ticks per second (USER_HZ).
      const kinds = Object.fromEntries(Object.keys(machine).map((k) => [k, Math.round(((machine[k] - start.machine[k]) / 100 / seconds) * 100) / 100]));
      return { threads, machine_cores: kinds };
    },
  };
}

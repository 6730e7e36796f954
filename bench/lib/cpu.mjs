// CPU time per process over a stretch of a benchmark, from /proc (Linux): which of the services,
// PostgreSQL, Redis, the load generator itself — or something else on the machine — used the
// cores. On a 2-core machine this is what says where a ceiling comes from. Elsewhere: null.
// Beside the CPU, each process's read and write system calls (/proc/<pid>/io, readable as root or
// as the processes' owner): on loopback a socket write also runs the receiver's TCP path, so
// the number of writes — Redis commands flushed, queries sent, responses — is a cost of its own.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ; 100 on every Linux this runs on

function readProcesses() {
  const out = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // comm is in parentheses and may hold spaces; the fields after it are space separated.
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      // utime and stime are fields 14 and 15 of stat(5), i.e. 11 and 12 after comm and state.
      out.set(Number(name), { comm, ticks: Number(fields[11]) + Number(fields[12]), kernelTicks: Number(fields[12]), ...readSyscalls(name) });
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/** Read and write system calls so far, or zeros where /proc/<pid>/io is not ours to read. */
function readSyscalls(pid) {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    return { syscr: Number(/syscr: (\d+)/.exec(io)?.[1] ?? 0), syscw: Number(/syscw: (\d+)/.exec(io)?.[1] ?? 0) };
  } catch {
    return { syscr: 0, syscw: 0 };
  }
}

function readMachine() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  // user nice system idle iowait irq softirq steal …
  const [, ...values] = line.trim().split(/\s+/).map(Number);
  const idle = values[3] + (values[4] ?? 0);
  return { busy: values.slice(0, 8).reduce((a, b) => a + b, 0) - idle, iowait: values[4] ?? 0, steal: values[7] ?? 0 };
}

/**
 * @param {() => Promise<Record<number, string>>} labels pid → label of the processes to name
 *   (asked at `stop`, so processes started in between are named too) — the services, and the
 *   PostgreSQL backends serving each; other `postgres` and `redis-server` processes are grouped
 *   by name, this process is `bench`, everything else `other`.
 */
export function cpuSampler(labels) {
  let start;
  return {
    start() {
      try {
        start = { t: performance.now(), machine: readMachine(), processes: readProcesses() };
      } catch {
        start = null;
      }
    },
    async stop() {
      if (!start) return null;
      const seconds = (performance.now() - start.t) / 1000;
      const machine = readMachine();
      const processes = readProcesses();
      const names = await labels();
      const cores = {};
      const kernel = {};
      const syscalls = {};
      for (const [pid, { comm, ticks, kernelTicks, syscr, syscw }] of processes) {
        const before = start.processes.get(pid);
        const used = ticks - (before?.ticks ?? 0);
        if (used <= 0) continue;
        const label = names[pid] ?? (pid === process.pid ? 'bench' : comm === 'postgres' || comm === 'redis-server' ? comm : 'other');
        cores[label] = (cores[label] ?? 0) + used;
        kernel[label] = (kernel[label] ?? 0) + kernelTicks - (before?.kernelTicks ?? 0);
        const calls = (syscalls[label] ??= { reads: 0, writes: 0 });
        calls.reads += syscr - (before?.syscr ?? 0);
        calls.writes += syscw - (before?.syscw ?? 0);
      }
      const perSecond = (ticks) => Math.round((ticks / TICKS_PER_S / seconds) * 100) / 100;
      const callsPerSecond = (n) => Math.round(n / seconds);
      return {
        seconds: Math.round(seconds * 10) / 10,
        machine_busy_cores: perSecond(machine.busy - start.machine.busy),
        // Waiting for disk (not in busy), and taken by the hypervisor (in busy): noise we do not cause.
        iowait_cores: perSecond(machine.iowait - start.machine.iowait),
        steal_cores: perSecond(machine.steal - start.machine.steal),
        cores: Object.fromEntries(Object.entries(cores).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, perSecond(v)])),
        /**
         * Per process, the part of `cores` spent in the kernel (stime): system calls, and on
         * loopback the receiving side's TCP path that a socket write runs.
         */
        kernel_cores: Object.fromEntries(Object.entries(kernel).map(([k, v]) => [k, perSecond(v)])),
        /** Per process, system calls per second: reads (socket and file reads) and writes. */
        syscalls_per_s: Object.fromEntries(Object.entries(syscalls).map(([k, { reads, writes }]) => [k, { reads: callsPerSecond(reads), writes: callsPerSecond(writes) }])),
      };
    },
  };
}

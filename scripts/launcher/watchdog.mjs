// Kills the launcher's children if the launcher dies without doing it (SIGKILL, OOM, a crash
// past its handlers). The launcher starts this detached, with a pipe on stdin, and writes
// `+<pid>` when it starts a child (each child leads its own process group) and `-<pid>` when the
// child is gone. When stdin ends, the launcher has exited, however it exited: every group still
// listed gets SIGTERM, and SIGKILL if it is still there 5 s later.
import { createInterface } from 'node:readline';

const GRACE_MS = 5000;
const groups = new Set();

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  const pid = Number.parseInt(line.slice(1), 10);
  if (!Number.isInteger(pid) || pid <= 0) return;
  if (line[0] === '+') groups.add(pid);
  else if (line[0] === '-') groups.delete(pid);
});
input.on('close', () => {
  if (groups.size === 0) process.exit(0);
  signalAll('SIGTERM');
  const deadline = Date.now() + GRACE_MS;
  const check = setInterval(() => {
    signalAll(0);
    if (groups.size > 0 && Date.now() < deadline) return;
    signalAll('SIGKILL');
    clearInterval(check);
    process.exit(0);
  }, 100);
});

/** Sends `signal` to every listed group and forgets those that are gone (signal 0 only checks). */
function signalAll(signal) {
  for (const pid of groups) {
    try {
      process.kill(-pid, signal);
    } catch {
      groups.delete(pid); // already gone
    }
  }
}

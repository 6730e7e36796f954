import cron from 'node-cron';

export interface Schedule {
  stop(): void;
}

/**
 * Runs `fn` every `intervalMs`, aligned to the wall clock so every replica ticks at the same
 * instant (which is what lets a lapsed lease change hands within one period). Whole-second
 * periods that divide a minute go through node-cron; others (tests use sub-second periods) fall
 * back to an aligned timer.
 */
export function every(intervalMs: number, fn: () => unknown): Schedule {
  const seconds = intervalMs / 1000;
  if (Number.isInteger(seconds) && seconds >= 1 && 60 % seconds === 0) {
    const expression = seconds === 1 ? '* * * * * *' : `*/${seconds} * * * * *`;
    const task = cron.schedule(expression, () => void fn(), { noOverlap: true });
    return { stop: () => void task.stop() };
  }
  let timer: NodeJS.Timeout;
  const arm = () => {
    timer = setTimeout(() => {
      arm();
      void fn();
    }, intervalMs - (Date.now() % intervalMs));
  };
  arm();
  return { stop: () => clearTimeout(timer) };
}

import { TimeoutError } from './errors';

/**
 * Rejects with a TimeoutError when `promise` takes longer than `ms`; the timer never outlives
 * the race. The promise itself goes on: callers abandon it, they cannot cancel it.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

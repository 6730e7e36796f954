import type { Logger } from 'pino';
import { ConfigError } from './errors';

export type Closer = () => Promise<unknown> | unknown;

/**
 * Runs a service's `main`. A ConfigError prints its one message and exits 1; any other start-up
 * failure is logged and exits 1. `main` returns the closers to run, in order, on SIGTERM/SIGINT;
 * a second signal or `graceMs` past the first forces the exit.
 */
export function runService(
  name: string,
  main: () => Promise<{ logger: Logger; closers: Closer[] }>,
  graceMs = 10_000,
): void {
  main().then(
    ({ logger, closers }) => {
      // A promise nobody handled is a bug, but one in a request or a message handler must not
      // take the process (and every other client's requests) down with it: Node's default for
      // an unhandled rejection is to exit. Logged loudly instead. A synchronous uncaught
      // exception still ends the process: its state is no longer known.
      process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) {
          logger.warn({ signal }, 'second signal: exiting now');
          process.exit(1);
        }
        stopping = true;
        logger.info({ signal }, 'shutting down');
        const force = setTimeout(() => {
          logger.error({ graceMs }, 'shutdown took too long: exiting');
          process.exit(1);
        }, graceMs);
        force.unref();
        for (const close of closers) {
          try {
            await close();
          } catch (error) {
            logger.warn({ err: error }, 'error while shutting down');
          }
        }
        logger.info('stopped');
        logger.flush?.();
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
    },
    (error: unknown) => {
      if (error instanceof ConfigError) {
        process.stderr.write(`${error.message}\n`);
      } else {
        process.stderr.write(`${name}: failed to start: ${(error as Error)?.stack ?? String(error)}\n`);
      }
      process.exit(1);
    },
  );
}

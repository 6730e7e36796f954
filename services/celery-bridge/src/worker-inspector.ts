import type { Logger } from '@agentos/runtime';
import { type CeleryControl, workerInfoFrom } from './control';
import type { BridgeMetrics } from './metrics';
import type { Translator } from './translate';

/** Longest wait before asking again a worker that did not answer. */
const RETRY_MAX_MS = 30_000;

/**
 * Workers' heartbeats carry neither their queues nor their pool size, so each worker that shows
 * itself is asked (`active_queues` and `stats`, as `celery inspect --destination` does) and the
 * translator told. A worker says worker-online before its control channel listens, so a first
 * ask often goes unanswered: it is asked again on its heartbeats, 1 s later, then 2, 4 … up to
 * 30 s apart, and anew whenever it comes back online.
 */
export function createWorkerInspector(deps: { control: CeleryControl; translator: Translator; metrics: BridgeMetrics; logger: Logger; timeoutMs: number }) {
  const workers = new Map<string, { nextAt: number; tries: number; answered: boolean; asking: boolean }>();

  return function inspect(hostname: string, fresh: boolean): void {
    let entry = workers.get(hostname);
    if (!entry || (fresh && !entry.asking)) {
      entry = { nextAt: 0, tries: 0, answered: false, asking: false };
      workers.set(hostname, entry);
    }
    if (entry.asking || entry.answered || Date.now() < entry.nextAt) return;
    const asked = entry;
    asked.asking = true;
    asked.tries += 1;
    asked.nextAt = Date.now() + Math.min(RETRY_MAX_MS, 1000 * 2 ** (asked.tries - 1));
    void Promise.all([
      deps.control.inspect('active_queues', [hostname], deps.timeoutMs),
      deps.control.inspect('stats', [hostname], deps.timeoutMs),
    ]).then(
      ([queues, stats]) => {
        asked.asking = false;
        const info = workerInfoFrom(queues[hostname], stats[hostname]);
        if (info.queues === undefined && info.concurrency === undefined) {
          deps.metrics.inspections.inc({ outcome: 'silent' });
          return;
        }
        asked.answered = true;
        deps.metrics.inspections.inc({ outcome: 'answered' });
        deps.translator.setWorkerInfo(hostname, info);
        deps.logger.info({ worker: hostname, ...info }, 'Celery worker inspected');
      },
      (error: Error) => {
        asked.asking = false;
        deps.metrics.inspections.inc({ outcome: 'error' });
        deps.logger.warn({ worker: hostname, err: error.message }, 'Celery worker inspect failed');
      },
    );
  };
}

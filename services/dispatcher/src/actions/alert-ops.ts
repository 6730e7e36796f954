import type { AgentEvent } from '@agentos/contracts';
import type { PrismaClient } from '@agentos/db';
import type { LoopWatch, Logger } from '@agentos/runtime';
import type { DispatcherMetrics } from '../metrics';

/**
 * alert_ops. The action itself, inside the batch, only tells the `alerts` room and the log: the
 * webhook post is written to the outbox with the event's effect (persist.ts,
 * `ssot_persist_events`) and sent by `startAlertDelivery` below, so a slow or failing webhook
 * never holds the events behind it.
 */

/** One line saying what the alert is about. */
export function alertSummary(event: AgentEvent): string {
  switch (event.name) {
    case 'worker:offline':
      return `worker ${event.payload.worker_id} offline: ${event.payload.reason}`;
    case 'job:failed':
      return `job ${event.payload.job_id} failed in ${event.payload.queue}`;
    default:
      return event.name;
  }
}

/** The JSON posted to the webhook. It carries the event id, as does the `Idempotency-Key` header. */
export function alertBody(event: AgentEvent): Record<string, unknown> {
  return { id: event.id, event: event.name, summary: alertSummary(event), payload: event.payload, occurred_at: event.occurred_at };
}

export interface AlertDeliveryOptions {
  prisma: PrismaClient;
  webhookUrl: string;
  /** Longest wait for one post. @default 5000 */
  timeoutMs?: number;
  /** Posts sent at once (each dispatcher replica). @default 4 */
  concurrency?: number;
  /** Tries before an alert is given up on (logged, `failed_at` set). @default 10 */
  maxAttempts?: number;
  /** First retry delay; doubles with each try, at most 5 minutes. @default 1000 */
  retryBaseMs?: number;
  /** How often the outbox is looked at when nothing woke the loop. @default 1000 */
  pollMs?: number;
  logger: Logger;
  metrics: DispatcherMetrics;
  /** Told of every round that reached the database. */
  watch?: LoopWatch;
}

interface Claimed {
  event_id: string;
  body: unknown;
  attempts: number;
}

/**
 * The delivery loop of the alert outbox, one per dispatcher replica. Each round claims the due
 * alerts — `FOR UPDATE SKIP LOCKED`, moving their next attempt forward by the backoff in the same
 * statement, so replicas never claim the same alert and one that crashed mid-post has it sent
 * again once that time passes — posts them, and marks each delivered. At least once: a receiver
 * drops repeats by the event id (`Idempotency-Key`). `wake()` starts a round at once (the
 * dispatcher calls it after a batch that wrote alerts).
 */
export function startAlertDelivery(options: AlertDeliveryOptions) {
  const timeoutMs = options.timeoutMs ?? 5000;
  const concurrency = options.concurrency ?? 4;
  const maxAttempts = options.maxAttempts ?? 10;
  const retryBaseMs = options.retryBaseMs ?? 1000;
  const pollMs = options.pollMs ?? 1000;
  let stopped = false;
  let running: Promise<void> | null = null;
  let again = false;
  let timer: NodeJS.Timeout | undefined;

  const claim = () =>
    options.prisma.$queryRawUnsafe<Claimed[]>(
      `UPDATE alert_outbox o SET attempts = o.attempts + 1,
              -- The claim is the retry schedule: a post still under way when this passes is sent again.
              next_attempt_at = now() + make_interval(secs => least(300, ($1::float8 * power(2, o.attempts)) / 1000) + $2::float8 / 1000)
       FROM (SELECT event_id FROM alert_outbox
             WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
             ORDER BY next_attempt_at LIMIT $3::int FOR UPDATE SKIP LOCKED) AS due
       WHERE o.event_id = due.event_id
       RETURNING o.event_id, o.body, o.attempts`,
      retryBaseMs,
      timeoutMs,
      concurrency,
    );

  async function post(alert: Claimed): Promise<void> {
    let error: string;
    try {
      const res = await fetch(options.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': alert.event_id },
        body: JSON.stringify(alert.body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        await options.prisma.alertOutbox.update({ where: { eventId: alert.event_id }, data: { deliveredAt: new Date(), lastError: null } });
        options.metrics.alertsDelivered.inc({ outcome: 'delivered' });
        return;
      }
      error = `webhook answered ${res.status}`;
    } catch (cause) {
      error = `webhook unreachable: ${(cause as Error).message}`;
    }
    const giveUp = alert.attempts >= maxAttempts;
    // Refused: due again after the backoff alone (the claim had also allowed for the post's timeout).
    const retryAt = new Date(Date.now() + Math.min(300_000, retryBaseMs * 2 ** (alert.attempts - 1)));
    await options.prisma.alertOutbox.update({
      where: { eventId: alert.event_id },
      data: { lastError: error, ...(giveUp ? { failedAt: new Date() } : { nextAttemptAt: retryAt }) },
    });
    options.metrics.alertsDelivered.inc({ outcome: giveUp ? 'given_up' : 'failed' });
    if (giveUp) options.logger.error({ event: alert.event_id, attempts: alert.attempts, err: error }, 'alert given up on after its last attempt');
    else options.logger.warn({ event: alert.event_id, attempt: alert.attempts, err: error }, 'alert not delivered; will retry');
  }

  async function round(): Promise<void> {
    for (;;) {
      const claimed = await claim();
      options.watch?.progress();
      if (claimed.length === 0) return;
      await Promise.all(claimed.map(post));
    }
  }

  function run(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    clearTimeout(timer);
    running = round()
      .catch((error: unknown) => options.logger.warn({ err: (error as Error).message }, 'alert delivery round failed; retrying'))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          run();
        } else if (!stopped) {
          timer = setTimeout(run, pollMs);
        }
      });
  }

  run();
  return {
    /** Looks at the outbox now (new alerts were just written). */
    wake: run,
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      options.watch?.stop();
      await running;
    },
  };
}

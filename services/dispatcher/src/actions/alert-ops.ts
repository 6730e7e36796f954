import type { AgentEvent } from '@agentos/contracts';
import type { Logger } from '@agentos/runtime';

export interface AlertOpsOptions {
  /** Where alerts are posted; unset, alert_ops only logs (the `alerts` room still gets them). */
  webhookUrl?: string;
  /** @default 5000 */
  timeoutMs?: number;
  /** Tries within one delivery of the event, before the event itself is retried. @default 3 */
  attempts?: number;
  logger: Logger;
}

/**
 * alert_ops: POSTs the event to the operators' webhook, retrying with backoff. The body carries
 * the event id, so a receiver can drop the repeats that at-least-once delivery may cause. Throws
 * when every try failed: the event is then retried, and dead-lettered after MAX_DELIVERIES.
 */
export function createAlertOps(options: AlertOpsOptions) {
  const attempts = options.attempts ?? 3;
  return async function alertOps(event: AgentEvent, summary: string): Promise<void> {
    if (!options.webhookUrl) {
      options.logger.warn({ event: event.name, id: event.id }, `alert: ${summary}`);
      return;
    }
    const body = JSON.stringify({ id: event.id, event: event.name, summary, payload: event.payload, occurred_at: event.occurred_at });
    let lastError = '';
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      try {
        const res = await fetch(options.webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': event.id },
          body,
          signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
        });
        if (res.ok) return;
        lastError = `webhook answered ${res.status}`;
      } catch (error) {
        lastError = `webhook unreachable: ${(error as Error).message}`;
      }
      if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, 100 * 4 ** (attempt - 1)));
    }
    throw new Error(lastError);
  };
}

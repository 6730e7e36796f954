import type { AgentEvent } from '@agentos/contracts';
import type { PrismaClient } from '@agentos/db';
import { insertNotifications } from '../persist';

/** The setting (in `settings`) of the minimum number of online workers. */
export const MINIMUM_WORKERS_SETTING = 'workers.minimum';

export interface WorkerShortage {
  online: number;
  minimum: number;
}

/**
 * check_minimum_workers: online workers against the configured minimum. Below it, a critical
 * notification (one per event: `event_id` is unique) and the shortage for an alert; else null.
 */
export async function checkMinimumWorkers(prisma: PrismaClient, event: AgentEvent): Promise<WorkerShortage | null> {
  const [online, setting] = await Promise.all([
    prisma.worker.count({ where: { status: 'online' } }),
    prisma.setting.findUnique({ where: { key: MINIMUM_WORKERS_SETTING } }),
  ]);
  const minimum = typeof setting?.value === 'number' ? setting.value : 1;
  if (online >= minimum) return null;
  await insertNotifications(prisma, [
    {
      event_id: event.id,
      kind: 'check_minimum_workers',
      severity: 'critical',
      title: 'Too few workers online',
      message: `${online} worker${online === 1 ? '' : 's'} online, minimum ${minimum}`,
      created_at: event.occurred_at,
    },
  ]);
  return { online, minimum };
}

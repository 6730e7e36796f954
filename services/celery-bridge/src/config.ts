import { commonEnv, loadEnv, portEnv } from '@agentos/runtime';
import { z } from 'zod';
import { parseAgentMap } from './agent-map';

const positiveInt = z.coerce.number().int().positive();

/** A comma-separated list of names (queues), none empty, at most 200 characters each. */
const nameList = z
  .string()
  .transform((list) => list.split(',').map((name) => name.trim()).filter((name) => name !== ''))
  .refine((names) => names.length > 0, 'must name at least one queue')
  .refine((names) => names.every((name) => name.length <= 200 && !/[\s]/.test(name)), 'each name: at most 200 characters, no whitespace');

export const bridgeEnv = z.object({
  ...commonEnv,
  ...portEnv(3005),
  /**
   * The Celery broker: a Redis URL (`redis://` or `rediss://`), as the Celery app's `broker_url`.
   * Its database number matters beyond key lookups: Celery's event and control channels are named
   * `/{db}.celeryev/…` and `/{db}.celery.pidbox`, and pub/sub itself ignores the database.
   * Required.
   */
  CELERY_BROKER_URL: z
    .url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' })
    // A URL that is not a Redis one has its own message already.
    .refine((url) => !/^rediss?:/.test(url) || /^\/?(\d+)?$/.test(new URL(url).pathname), 'the path must be a database number (redis://host:6379/3) or empty'),
  /** Where the SSOT's api answers: events go to its `POST /api/events`. @default http://127.0.0.1:3000 */
  INGEST_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:3000'),
  /** One of the api's `INGEST_TOKENS`. Required. */
  INGEST_TOKEN: z.string().min(1),
  /**
   * Read pacing: after each read of Celery's event subscription, this long without reading; what
   * is published meanwhile arrives in the next read, together (broker.ts, `paceReads`), and leaves
   * in one `POST /api/events`. Celery publishes every event on its own: read as they come, each
   * costs the bridge a wake-up, and at 1,000 events/s that was a third of its CPU
   * (bench:bridges, steady phase: 0.074–0.079 CPU s per 1,000 events paced at 50 ms, 0.105–0.110
   * unpaced with INGEST_FLUSH_MS 50, for the same lag). An event after a quiet spell is read at
   * once; a bridge that is behind reads on without resting. 0: read as events arrive. At most
   * 500: the connection's PINGs wait for the reads too. @default 50
   */
  CELERY_READ_INTERVAL_MS: z.coerce.number().int().min(0).max(500).default(50),
  /**
   * Longest time an event waits for others to share its POST beyond the read it came in. With
   * reads paced (CELERY_READ_INTERVAL_MS), a read's events already leave together, and 0 sends
   * them at once. Unpaced, each request costs the bridge about as much CPU as a few dozen events,
   * and 50 is the better choice. @default 0
   */
  INGEST_FLUSH_MS: z.coerce.number().int().min(0).max(5000).default(0),
  /**
   * Task name → pipeline agent, so a job says which agent it runs: JSON (`{"pipeline.plan":
   * "planner"}`) or `task=agent,task=agent`. A name ending in `*` matches every task name that
   * starts with what comes before it; the exact name wins over a prefix, a longer prefix over a
   * shorter one. A task matching nothing has no agent. @default none
   */
  CELERY_AGENT_MAP: z
    .string()
    .default('')
    .transform((text, ctx) => {
      const parsed = parseAgentMap(text);
      if (typeof parsed === 'string') {
        ctx.addIssue({ code: 'custom', message: parsed });
        return z.NEVER;
      }
      return parsed;
    }),
  /**
   * The queues (Redis lists on the broker) whose depth is reported as `queue:stats`, comma
   * separated. The first is also the queue of a task whose queue Celery's events never named (a
   * client without `task_send_sent_event`, and a worker consuming several queues). @default celery
   */
  CELERY_QUEUES: nameList.default(['celery']),
  /** How often the queues' depth (`LLEN`) is read and posted. @default 2000 */
  CELERY_QUEUE_POLL_MS: positiveInt.default(2000),
  /**
   * Only `task-sent` names a task's queue, and a client publishes it after the message, so the
   * worker's `task-received` often arrives first. A task whose queue is not known yet has its
   * events held for at most this long, waiting for its `task-sent` (released the moment it
   * comes). Held only once `task-sent` events have been seen at all, and never for a worker
   * known to consume one queue. @default 500
   */
  CELERY_SENT_WAIT_MS: z.coerce.number().int().min(0).max(10_000).default(500),
  /** Characters of a failed task's traceback kept in the job's `error` (its end: where it was raised). @default 2000 */
  CELERY_TRACEBACK_CHARS: z.coerce.number().int().min(0).max(8000).default(2000),
  /**
   * Ask each worker that appears for its queues and concurrency (`active_queues` and `stats` over
   * the control channel, as `celery inspect` does): Celery's heartbeats carry neither. @default true
   */
  CELERY_INSPECT_WORKERS: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default('true')
    .transform((value) => value === 'true'),
  /** Longest wait for the workers' answers to a control request (inspect). @default 1000 */
  CELERY_CONTROL_TIMEOUT_MS: positiveInt.max(30_000).default(1000),
  /** Tasks remembered (name, queue, attempt, start) for the events that do not repeat them; the oldest are forgotten first. @default 100000 */
  CELERY_MAX_TRACKED_TASKS: positiveInt.default(100_000),
});
export type BridgeConfig = z.infer<typeof bridgeEnv>;

export function loadBridgeConfig(env: NodeJS.ProcessEnv = process.env): Readonly<BridgeConfig> {
  return loadEnv('celery-bridge', bridgeEnv, env);
}

/** The broker's database number: the `/{db}.` of Celery's channel names. */
export function brokerDb(url: string): number {
  const path = new URL(url).pathname.replace(/^\//, '');
  return path === '' ? 0 : Number(path);
}

import type { CommandOutcome } from '@agentos/client';
import { type BullmqBridgeKeys, type Command } from '@agentos/contracts';
import type { Logger, Redis } from '@agentos/runtime';
import { Job, UnrecoverableError } from 'bullmq';
import type { BullQueues } from './bull-queues';
import type { QueueSet } from './discovery';
import { parseSsotJobId } from './ids';
import { bullKeys } from './keys';
import type { BridgeMetrics } from './metrics';

/** The reason an active job is failed with when an admin cancels it (CONTRACT §8). */
export const CANCELLED_BY_ADMIN = 'cancelled by admin';

/** How long the outcome of a command is remembered, s: a command delivered again within it is answered the same. */
const OUTCOME_TTL_S = 86_400;
/** States in which a job has not started yet: a cancel removes it. */
const NOT_STARTED = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children', 'paused']);

export interface CommandHandlerOptions {
  bull: Redis;
  /** The SSOT's Redis: outcomes already given. */
  redis: Redis;
  keys: BullmqBridgeKeys;
  prefix: string;
  queues: QueueSet;
  bullQueues: BullQueues;
  logger: Logger;
  metrics: BridgeMetrics;
}

/**
 * Carries out the SSOT's commands on BullMQ (CONTRACT §8), for `CommandConsumer`:
 * - `retry` a failed job: `job.retry('failed')`, BullMQ's own; it runs again (a `waiting` entry,
 *   so the SSOT restarts the job with its next attempt). A job already waiting or running again
 *   answers ok: the same command delivered twice does not run it twice.
 * - `cancel` a job not yet started (waiting, delayed, prioritized, waiting for children):
 *   `job.remove()`; BullMQ's `removed` entry becomes `job:cancelled`.
 * - `cancel` an active job: BullMQ cannot stop a processor from outside its process. The bridge
 *   moves the job to failed ("cancelled by admin", as an UnrecoverableError, so BullMQ does not
 *   retry it) with the processor's own lock token, read from the job's lock; BullMQ and the SSOT
 *   then show it failed at once. The processor itself runs on until it returns: its side effects
 *   happen, its result is refused by BullMQ (the lock is gone, the worker logs "Missing lock"),
 *   and its worker sees `lockRenewalFailed` for the job, on which it can call
 *   `worker.cancelJob(id)` to abort the processor's signal.
 * Anything else is refused with the reason. The outcome is kept a day by command id.
 */
export function createCommandHandler(options: CommandHandlerOptions): (command: Command) => Promise<CommandOutcome> {
  const { redis, keys, logger, metrics } = options;

  async function carryOut(command: Command): Promise<CommandOutcome> {
    const target = parseSsotJobId(command.job_id);
    if (!target || !options.queues.has(target.queue)) {
      return refuse(`'${command.job_id}' is not a job of the BullMQ queues this bridge carries (their ids are queue:job id)`);
    }
    const job = await Job.fromId(options.bullQueues.get(target.queue), target.jobId);
    if (!job) return refuse(`BullMQ has no job ${target.jobId} in queue ${target.queue} (removed?)`);
    return command.action === 'retry' ? retry(job) : cancel(job, target.queue);
  }

  async function retry(job: Job): Promise<CommandOutcome> {
    const state = await job.getState();
    if (state === 'failed') {
      try {
        await job.retry('failed');
        return { ok: true };
      } catch (error) {
        // Retried by someone else meanwhile?
        if (isQueuedOrRunning(await job.getState())) return { ok: true };
        return refuse(`BullMQ did not retry the job: ${(error as Error).message}`);
      }
    }
    if (isQueuedOrRunning(state)) return { ok: true };
    if (state === 'completed') return refuse('the job completed; BullMQ retries failed jobs only');
    return refuse(`BullMQ has the job in state '${state}'; only failed jobs can be retried`);
  }

  async function cancel(job: Job, queue: string): Promise<CommandOutcome> {
    const state = await job.getState();
    if (NOT_STARTED.has(state)) {
      try {
        await job.remove();
        return { ok: true };
      } catch (error) {
        // It started meanwhile (a locked job cannot be removed): fail it as an active one.
        const now = await job.getState();
        if (now === 'unknown') return { ok: true };
        if (now !== 'active') return refuse(`BullMQ did not remove the job: ${(error as Error).message}`);
      }
    } else if (state !== 'active') {
      return refuse(`the job is ${state} in BullMQ; only waiting, delayed or active jobs can be cancelled`);
    }
    return failActive(job, queue);
  }

  async function failActive(job: Job, queue: string): Promise<CommandOutcome> {
    // With the processor's token the lock goes too, so its worker learns (lockRenewalFailed).
    // A lock that lapsed already has no token: "0" is BullMQ's "no lock check".
    const token = (await options.bull.get(bullKeys(options.prefix, queue).lock(job.id!))) ?? '0';
    try {
      await job.moveToFailed(new UnrecoverableError(CANCELLED_BY_ADMIN), token, false);
      return { ok: true };
    } catch (error) {
      const now = await job.getState();
      if (now === 'failed' && (await Job.fromId(options.bullQueues.get(queue), job.id!))?.failedReason === CANCELLED_BY_ADMIN) return { ok: true };
      return refuse(`the job ${now === 'unknown' ? 'is gone' : `is ${now}`} in BullMQ; it finished before it could be cancelled (${(error as Error).message})`);
    }
  }

  return async function handle(command: Command): Promise<CommandOutcome> {
    const key = keys.commandOutcome(command.command_id);
    const known = await redis.get(key);
    if (known) return JSON.parse(known) as CommandOutcome;
    const outcome = await withRetries(() => carryOut(command));
    await redis.set(key, JSON.stringify(outcome), 'EX', OUTCOME_TTL_S);
    metrics.commands.inc({ action: command.action, outcome: outcome.ok ? 'ok' : 'refused' });
    logger.info({ command: command.command_id, action: command.action, job: command.job_id, ok: outcome.ok, ...(outcome.ok ? {} : { reason: outcome.error }) }, 'command carried out');
    return outcome;
  };
}

function isQueuedOrRunning(state: string): boolean {
  return state === 'active' || NOT_STARTED.has(state);
}

function refuse(error: string): CommandOutcome {
  return { ok: false, error };
}

/** A Redis that hiccups should not turn a command into a failure at once: two more tries. */
async function withRetries<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

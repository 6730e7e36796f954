import { randomUUID } from 'node:crypto';
import {
  type BulkCommandAccepted,
  type BulkCommandProgress,
  type BulkCommandRequest,
  type Command,
  type CommandAction,
  commandRefusal,
  type JobFilter,
  jobFilter,
  type JobStatus,
  MAX_BULK_JOBS,
  type SourceCapabilities,
} from '@agentos/contracts';
import { isoSql, type PrismaClient } from '@agentos/db';
import { type Logger, NotFoundError, type Principal, ValidationError } from '@agentos/runtime';
import { countJobs, findJobs, type JobKey, type RunSql } from './job-search';
import type { JobService } from './jobs';

export interface BulkCommandsOptions {
  prisma: PrismaClient;
  /** Capabilities and the command streams, as the single-job commands use them. */
  jobs: JobService;
  /** This runner's name in `bulk_commands.runner`: unique per api process. */
  runner: string;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Jobs per batch: one transaction, and one MULTI of commands. @default 200 */
  batchSize?: number;
  /**
   * How long a runner holds a bulk command without finishing a batch before any replica may take
   * it over. Renewed by every batch; released at once on a clean stop. @default 15000
   */
  leaseMs?: number;
  /** How often an idle runner looks for bulk commands to take up. @default 2000 */
  pollMs?: number;
}

/** One job of a batch, as the checks need it. */
interface BatchJob {
  id: string;
  source: string;
  status: JobStatus;
  created_at: string;
}

const BATCH_JOB_SQL = `json_build_object('id', j.id, 'source', j.source, 'status', j.status, 'created_at', ${isoSql('j.created_at')})`;

/** A batch's commands between their commit and their stream (`bulk_commands.unqueued`). */
interface Unqueued {
  /** When the batch committed, ms: the commands cannot be on a stream from before. */
  at: number;
  /** The batch was the last: the bulk is done once these are queued. */
  last: boolean;
  entries: { source: string; command: Command }[];
}

/** Tries at queueing a batch's commands (the stream checked in between) before they count as failed. */
const QUEUE_ATTEMPTS = 3;

/**
 * `POST /api/admin/jobs/bulk` (CONTRACT §4): retry or cancel every job a search filter matches,
 * carried out in the background in batches of `batchSize` jobs, each job through the checks a
 * single command gets (its source's capabilities, its state); a job that fails them is skipped,
 * with the reason.
 *
 * Kept in the database (`bulk_commands`), so it survives the api: every api process runs one
 * runner, which takes up a bulk command with a lease and renews it with every batch. A batch is
 * one transaction holding the bulk's row lock — the runner checks that it is still the holder,
 * reads the next jobs after the cursor, writes their commands and moves the cursor — so two
 * runners never both carry out a batch, and a runner that stopped (a crash, a deploy) leaves a
 * cursor that the next one resumes from, after the lease lapses (at once after a clean stop).
 *
 * A batch's commands go on their streams after its commit, and stay listed in `unqueued` until
 * they are there. A runner that finds a list left behind (its predecessor stopped in between)
 * first looks on the streams for them and adds only those missing, so each command is queued
 * once. Commands that still cannot be queued after `QUEUE_ATTEMPTS` are marked failed, as a
 * single command is when Redis is unreachable, and counted in `failed`.
 */
export class BulkCommands {
  private readonly batchSize: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private stopping = false;
  private loop?: Promise<void>;
  private wake: () => void = () => {};

  constructor(private readonly options: BulkCommandsOptions) {
    this.batchSize = options.batchSize ?? 200;
    this.leaseMs = options.leaseMs ?? 15_000;
    this.pollMs = options.pollMs ?? 2_000;
  }

  /**
   * Keeps a bulk command for `filter` and hands it to the runners; resolves with its id and how
   * many jobs match now. ValidationError (400) when the filter matches more than MAX_BULK_JOBS.
   */
  async request(body: BulkCommandRequest, by: Principal): Promise<BulkCommandAccepted> {
    const { prisma } = this.options;
    const { sql, params } = countJobs(body.filter, MAX_BULK_JOBS + 1);
    const [row] = await prisma.$queryRawUnsafe<{ n: number }[]>(sql, ...params);
    const matched = row?.n ?? 0;
    if (matched > MAX_BULK_JOBS) {
      throw new ValidationError(`the filter matches more than ${MAX_BULK_JOBS.toLocaleString('en-US')} jobs, the most one bulk command acts on: narrow it (from and to, say) and send several`);
    }
    const id = randomUUID();
    await prisma.bulkCommand.create({
      data: { id, action: body.action, filter: body.filter, requestedBy: by.sub, requestedAt: new Date(), matched, skippedReasons: {} },
    });
    this.wake();
    return { bulk_id: id, matched };
  }

  /** How far a bulk command has come; NotFoundError when unknown. */
  async progress(id: string): Promise<BulkCommandProgress> {
    const bulk = await this.options.prisma.bulkCommand.findUnique({ where: { id } });
    if (!bulk) throw new NotFoundError(`no bulk command '${id}'`);
    const reasons = Object.entries(bulk.skippedReasons as Record<string, number>).sort(([a, m], [b, n]) => n - m || a.localeCompare(b));
    return {
      bulk_id: bulk.id,
      action: bulk.action,
      filter: jobFilter.parse(bulk.filter),
      requested_by: bulk.requestedBy,
      matched: bulk.matched,
      queued: bulk.queued,
      skipped: bulk.skipped,
      failed: bulk.failed,
      skipped_reasons: reasons.map(([reason, jobs]) => ({ reason, jobs })),
      done: bulk.finishedAt !== null,
      started_at: bulk.requestedAt.toISOString(),
      finished_at: bulk.finishedAt?.toISOString() ?? null,
    };
  }

  /** Starts this process's runner: it takes up bulk commands until `stop()`. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Ends the runner after its current batch and releases its lease, so another replica goes on at once. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        const id = await this.claim();
        if (id) await this.carryOut(id);
        else await this.idle(this.pollMs);
        failures = 0;
      } catch (error) {
        // The database or Redis is away: the lease lapses meanwhile, and any runner resumes.
        failures += 1;
        this.options.logger.warn({ err: error, failures }, 'bulk command runner failed; retrying');
        await this.idle(Math.min(30_000, 250 * 2 ** failures));
      }
    }
  }

  /** Sleeps `ms`, or until a bulk command arrives or the runner stops. */
  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** The oldest bulk command nobody holds, now held by this runner; undefined when there is none. */
  private async claim(): Promise<string | undefined> {
    const [row] = await this.options.prisma.$queryRawUnsafe<{ id: string }[]>(
      `UPDATE bulk_commands SET runner = $1, lease_until = now() + $2::int * interval '1 millisecond', runs = runs + 1
        WHERE id = (SELECT id FROM bulk_commands
                     WHERE finished_at IS NULL AND (lease_until IS NULL OR lease_until < now())
                     ORDER BY requested_at LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING id::text`,
      this.options.runner,
      this.leaseMs,
    );
    return row?.id;
  }

  /** Batches until the bulk is done, its lease is lost, or the runner stops (and lets go of it). */
  private async carryOut(id: string): Promise<void> {
    for (;;) {
      if (this.stopping) {
        await this.options.prisma.$executeRawUnsafe(`UPDATE bulk_commands SET runner = NULL, lease_until = NULL WHERE id = $1::uuid AND runner = $2`, id, this.options.runner);
        return;
      }
      const outcome = await this.batch(id);
      if (outcome === 'lost') return;
      if (outcome.entries.length > 0) await this.settle(id, outcome);
      if (outcome.last) {
        this.options.logger.info({ bulkId: id }, 'bulk command done');
        return;
      }
    }
  }

  /**
   * One batch, in one transaction under the bulk's row lock: the next jobs after the cursor, each
   * checked, their commands written, the counts and the cursor moved. Resolves with the commands
   * to queue (also kept as `unqueued`), or 'lost' when another runner holds the bulk now.
   */
  private batch(id: string): Promise<Unqueued | 'lost'> {
    const { prisma, runner, jobs } = this.options;
    return prisma.$transaction(
      async (tx) => {
        const [bulk] = await tx.$queryRawUnsafe<
          { action: CommandAction; filter: unknown; requested_by: string; cursor_at: string | null; cursor_id: string | null; skipped_reasons: Record<string, number>; runner: string | null; finished: boolean; unqueued: Unqueued | null }[]
        >(
          `SELECT action, filter, requested_by, ${isoSql('cursor_created_at')} AS cursor_at, cursor_id, skipped_reasons, runner,
                  finished_at IS NOT NULL AS finished, unqueued
             FROM bulk_commands WHERE id = $1::uuid FOR UPDATE`,
          id,
        );
        if (!bulk || bulk.runner !== runner || bulk.finished) return 'lost' as const;
        // Left by a runner that stopped between a commit and its queueing: settle those first.
        if (bulk.unqueued) return bulk.unqueued;

        const run: RunSql = (sql, params) => tx.$queryRawUnsafe(sql, ...params);
        const filter: JobFilter = jobFilter.parse(bulk.filter);
        const after: JobKey | undefined = bulk.cursor_at !== null && bulk.cursor_id !== null ? { createdAt: bulk.cursor_at, id: bulk.cursor_id } : undefined;
        const found = await findJobs<BatchJob>(run, { filter, after, take: this.batchSize }, BATCH_JOB_SQL);

        const capabilities = new Map<string, SourceCapabilities | undefined>();
        const reasons = { ...bulk.skipped_reasons };
        const entries: Unqueued['entries'] = [];
        const requestedAt = new Date().toISOString();
        let skipped = 0;
        for (const job of found) {
          if (!capabilities.has(job.source)) capabilities.set(job.source, await jobs.capabilities(job.source));
          const refusal = commandRefusal(job.source, capabilities.get(job.source), bulk.action, job.status);
          if (refusal) {
            skipped += 1;
            reasons[refusal] = (reasons[refusal] ?? 0) + 1;
            continue;
          }
          const command: Command = { command_id: randomUUID(), job_id: job.id, action: bulk.action, requested_by: bulk.requested_by, requested_at: requestedAt };
          entries.push({ source: job.source, command });
        }
        if (entries.length > 0) {
          await tx.command.createMany({
            data: entries.map(({ source, command }) => ({
              id: command.command_id,
              jobId: command.job_id,
              source,
              action: command.action,
              requestedBy: command.requested_by,
              requestedAt: new Date(command.requested_at),
              bulkId: id,
            })),
          });
        }
        const last = found.length < this.batchSize;
        const edge = found[found.length - 1];
        const unqueued: Unqueued = { at: Date.now(), last, entries };
        await tx.$executeRawUnsafe(
          `UPDATE bulk_commands SET
             queued = queued + $2::int, skipped = skipped + $3::int, skipped_reasons = $4::jsonb,
             cursor_created_at = coalesce($5::timestamptz, cursor_created_at), cursor_id = coalesce($6::text, cursor_id),
             unqueued = $7::jsonb, lease_until = now() + $8::int * interval '1 millisecond',
             finished_at = CASE WHEN $9::boolean THEN now() END
           WHERE id = $1::uuid`,
          id,
          entries.length,
          skipped,
          JSON.stringify(reasons),
          edge?.created_at ?? null,
          edge?.id ?? null,
          entries.length > 0 ? JSON.stringify(unqueued) : null,
          this.leaseMs,
          last && entries.length === 0,
        );
        return unqueued;
      },
      { timeout: Math.max(10_000, this.leaseMs), maxWait: 5_000 },
    );
  }

  /**
   * Puts a batch's commands on their streams — those not there already — and clears `unqueued`
   * (finishing the bulk after its last batch). After QUEUE_ATTEMPTS the rest are marked failed.
   */
  private async settle(id: string, batch: Unqueued): Promise<void> {
    const { prisma, jobs, runner } = this.options;
    let missing = batch.entries;
    for (let attempt = 1; missing.length > 0 && attempt <= QUEUE_ATTEMPTS; attempt += 1) {
      try {
        const present = await jobs.onStreams(missing, batch.at);
        missing = missing.filter((entry) => !present.has(entry.command.command_id));
        await jobs.queue(missing);
        missing = [];
      } catch (error) {
        this.options.logger.warn({ err: error, bulkId: id, attempt }, 'bulk command: could not queue a batch');
        if (attempt < QUEUE_ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, 500 * 4 ** (attempt - 1)));
      }
    }
    // One statement: the commands are marked failed only while this runner still holds the bulk
    // (a runner that took over settles the batch itself, checking the streams first).
    await prisma.$executeRawUnsafe(
      `WITH bulk AS (
         UPDATE bulk_commands SET unqueued = NULL, queued = queued - $3::int, failed = failed + $3::int,
                finished_at = CASE WHEN $4::boolean THEN now() END
          WHERE id = $1::uuid AND runner = $2
         RETURNING id)
       UPDATE commands SET status = 'failed', error = 'not queued: the command stream was unreachable', completed_at = now()
        WHERE id = ANY($5::uuid[]) AND status = 'requested' AND EXISTS (SELECT 1 FROM bulk)`,
      id,
      runner,
      missing.length,
      batch.last,
      missing.map((entry) => entry.command.command_id),
    );
  }
}

import { randomUUID } from 'node:crypto';
import {
  BUILTIN_SOURCE_CAPABILITIES,
  type Command,
  type CommandAction,
  commandRefusal,
  type JobDetail,
  type JobSearchPage,
  type JobStatus,
  type JobSummary,
  MAX_JOB_HISTORY,
  type RedisKeys,
  type SourceCapabilities,
} from '@agentos/contracts';
import { isoSql, JOB_SUMMARY_JSON_SQL, type PrismaClient } from '@agentos/db';
import { ConflictError, NotFoundError, type Principal, type Redis, withTimeout } from '@agentos/runtime';
import { EventStoreUnavailableError } from './errors';
import { encodeCursor, findJobs, type JobSearch, type RunSql } from './job-search';

/** Entries kept on each command stream (approximately): far more than any backlog of admin actions. */
const COMMAND_STREAM_MAXLEN = 100_000;

export interface JobServiceOptions {
  prisma: PrismaClient;
  /** Command connection. */
  redis: Redis;
  keys: RedisKeys;
  /** Longest wait for Redis when queueing a command. @default 3000 */
  timeoutMs?: number;
}

/**
 * The api's side of jobs (CONTRACT §4, §8): one job with its history, and the commands an admin
 * asks for. A command is checked against its source's capabilities before anything is written
 * (409 with the reason), kept in the database with who asked, then put on the source's command
 * stream for its executor; the outcome arrives later as `command:result`.
 */
export class JobService {
  private readonly timeoutMs: number;

  constructor(private readonly options: JobServiceOptions) {
    this.timeoutMs = options.timeoutMs ?? 3000;
  }

  /**
   * One page of the job search (CONTRACT §4), newest first, and the cursor of the next page (null
   * on the last). One row more than the page is read, so the last page says it is the last.
   */
  async search(search: JobSearch): Promise<JobSearchPage> {
    const rows = await findJobs<JobSummary>(this.run, { filter: search.filter, after: search.after, take: search.limit + 1 });
    const items = rows.slice(0, search.limit);
    const last = items[items.length - 1];
    return { items, next_cursor: rows.length > search.limit && last ? encodeCursor({ createdAt: last.created_at, id: last.id }) : null };
  }

  /** Raw SQL through the api's pool, for the search. */
  readonly run: RunSql = (sql, params) => this.options.prisma.$queryRawUnsafe(sql, ...params);

  /** The job, its history oldest first, its commands newest first; NotFoundError when unknown. */
  async detail(id: string): Promise<JobDetail> {
    const [rows, events, commands] = await Promise.all([
      this.options.prisma.$queryRawUnsafe<{ job: Omit<JobDetail, 'events' | 'events_total' | 'commands'> | null; events_total: number }[]>(
        `SELECT (SELECT (${JOB_SUMMARY_JSON_SQL}::jsonb || jsonb_build_object('updated_at', ${isoSql('j.updated_at')}, 'error', j.error))
                 FROM jobs j WHERE j.id = $1) AS job,
                (SELECT count(*)::int FROM job_events WHERE job_id = $1) AS events_total`,
        id,
      ),
      this.options.prisma.jobEvent.findMany({ where: { jobId: id }, orderBy: [{ occurredAt: 'asc' }, { eventId: 'asc' }], take: MAX_JOB_HISTORY }),
      this.options.prisma.command.findMany({ where: { jobId: id }, orderBy: { requestedAt: 'desc' }, take: 100 }),
    ]);
    const job = rows[0]?.job;
    if (!job) throw new NotFoundError(`no job '${clip(id)}'`);
    return {
      ...job,
      events: events.map((e) => ({
        id: e.eventId,
        name: e.name,
        occurred_at: e.occurredAt.toISOString(),
        source: e.source,
        attempt: e.attempt,
        payload: e.payload as Record<string, unknown>,
      })),
      events_total: rows[0]!.events_total,
      commands: commands.map((c) => ({
        id: c.id,
        action: c.action,
        status: c.status,
        requested_by: c.requestedBy,
        requested_at: c.requestedAt.toISOString(),
        error: c.error,
        completed_at: c.completedAt?.toISOString() ?? null,
      })),
    };
  }

  /**
   * Asks the job's platform to carry out `action`. NotFoundError for an unknown job, ConflictError
   * (409, with the reason) when its state or its source cannot do it — checked before anything is
   * written. Resolves with the command id once the command is kept and queued.
   */
  async request(id: string, action: CommandAction, by: Principal): Promise<string> {
    const { prisma } = this.options;
    const job = await prisma.job.findUnique({ where: { id }, select: { id: true, source: true, status: true } });
    if (!job) throw new NotFoundError(`no job '${clip(id)}'`);
    const refusal = commandRefusal(job.source, await this.capabilities(job.source), action, job.status as JobStatus);
    if (refusal) throw new ConflictError(refusal);

    const command: Command = { command_id: randomUUID(), job_id: job.id, action, requested_by: by.sub, requested_at: new Date().toISOString() };
    await prisma.command.create({
      data: { id: command.command_id, jobId: job.id, source: job.source, action, requestedBy: by.sub, requestedAt: new Date(command.requested_at) },
    });
    try {
      await this.queue([{ source: job.source, command }]);
    } catch (error) {
      // Kept, but never queued: say so on the record, and let the admin ask again.
      await prisma.command
        .update({ where: { id: command.command_id }, data: { status: 'failed', error: 'not queued: the command stream was unreachable', completedAt: new Date() } })
        .catch(() => {});
      throw new EventStoreUnavailableError('could not queue the command; retry shortly', 1, error);
    }
    return command.command_id;
  }

  /**
   * Puts commands on their sources' streams, in one MULTI: all of them or (the connection lost
   * before EXEC) none; a timeout leaves it unknown, which the bulk runner checks on the stream.
   */
  async queue(entries: readonly { source: string; command: Command }[]): Promise<void> {
    if (entries.length === 0) return;
    const { redis, keys } = this.options;
    const multi = redis.multi();
    for (const { source, command } of entries) multi.xadd(keys.commands(source), 'MAXLEN', '~', COMMAND_STREAM_MAXLEN, '*', 'command', JSON.stringify(command));
    const results = await withTimeout(multi.exec(), this.timeoutMs, 'queue commands');
    const failed = results?.find(([error]) => error)?.[0];
    if (!results || failed) throw failed ?? new Error('the command transaction was discarded');
  }

  /**
   * Which of these commands are on their streams, among the entries added since `sinceMs` (a
   * minute of slack before it, for clocks that differ): how a batch whose queueing went unseen is
   * settled without adding a command twice.
   */
  async onStreams(entries: readonly { source: string; command: Command }[], sinceMs: number): Promise<Set<string>> {
    const { redis, keys } = this.options;
    const present = new Set<string>();
    const start = String(Math.max(0, sinceMs - 60_000));
    for (const source of new Set(entries.map((entry) => entry.source))) {
      for (let end = '+'; ; ) {
        const page = (await withTimeout(redis.xrevrange(keys.commands(source), end, start, 'COUNT', 1000), this.timeoutMs, 'read command stream')) as [string, string[]][];
        for (const [, fields] of page) {
          const at = fields.indexOf('command');
          if (at < 0) continue;
          try {
            present.add((JSON.parse(fields[at + 1] ?? '{}') as { command_id?: string }).command_id ?? '');
          } catch {
            // Not one of ours: whatever wrote it, it is no command this api queued.
          }
        }
        if (page.length < 1000) break;
        end = `(${page[page.length - 1]![0]}`;
      }
    }
    return present;
  }

  /** What the source can do: built in for the bridges of this system, else what its CommandConsumer declared. */
  async capabilities(source: string): Promise<SourceCapabilities | undefined> {
    const builtin = BUILTIN_SOURCE_CAPABILITIES[source];
    if (builtin) return builtin;
    const declared = await withTimeout(this.options.redis.hget(this.options.keys.sourceCapabilities, source), this.timeoutMs, 'source capabilities').catch((error: unknown) => {
      throw new EventStoreUnavailableError('could not read what the job source can do; retry shortly', 1, error);
    });
    if (!declared) return undefined;
    try {
      return JSON.parse(declared) as SourceCapabilities;
    } catch {
      return undefined;
    }
  }
}

function clip(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

import { z } from 'zod';
import { type CommandAccepted, commandAction, commandRecord } from './commands';
import { eventEnvelope, eventSource, MAX_EVENTS_PER_BATCH } from './events';
import { opaqueId } from './ids';
import type { IngestProblem, IngestResult } from './messages';
import { jobHistoryEvent, jobStatus, jobSummary } from './sections';

/**
 * The api's requests and answers (CONTRACT §4) as zod schemas: the routes validate with them, and
 * the OpenAPI document (`GET /api/openapi.json`) is generated from them.
 */

const isoTime = z.iso.datetime({ offset: true });
const filterTime = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 time with its offset, e.g. 2026-12-03T10:00:00Z' });
const count = z.number().int().nonnegative();

/** Most events `GET /api/admin/jobs/:id` lists (oldest first); `events_total` says how many there are. */
export const MAX_JOB_HISTORY = 1000;

/**
 * `GET /api/admin/jobs/:id` (CONTRACT §4): the job as the snapshot lists it, its history oldest
 * first, and the commands asked for it, newest first (a command stays `requested` until its
 * platform reports a result).
 */
export const jobDetail = jobSummary.extend({
  updated_at: z.iso.datetime({ offset: true }),
  events: z.array(jobHistoryEvent),
  events_total: z.number().int().nonnegative(),
  commands: z.array(commandRecord),
});
export type JobDetail = z.infer<typeof jobDetail>;

/** Every error answer (CONTRACT §4). */
export const errorAnswer = z.object({
  error: z.object({
    /** Stable: `invalid_request`, `unauthorized`, `forbidden`, `not_found`, `conflict`, … */
    code: z.string(),
    message: z.string(),
    /** For a refused event batch: `[{index, field, message}]`; for a bad query: `[{field, message}]`. */
    details: z.unknown().optional(),
  }),
});
export type ErrorAnswer = z.infer<typeof errorAnswer>;

// ---------------------------------------------------------------------------------------------
// Job search: GET /api/admin/jobs

/** Jobs per page when `limit` is not given. */
export const JOB_SEARCH_DEFAULT_LIMIT = 50;
/** Most jobs one page holds. */
export const JOB_SEARCH_MAX_LIMIT = 500;
/**
 * Letters or digits in a row `q` must hold: the trigram index (pg_trgm) can narrow a search only
 * by runs of three word characters, and anything shorter would read every row.
 */
export const JOB_SEARCH_MIN_TERM = 3;
/** Longest text a filter value may be. */
const MAX_FILTER_TEXT = 200;

const filterText = z.string().min(1, 'must not be empty').max(MAX_FILTER_TEXT, `at most ${MAX_FILTER_TEXT} characters`);
const searchText = z
  .string()
  .max(MAX_FILTER_TEXT)
  .regex(new RegExp(`[\\p{L}\\p{N}]{${JOB_SEARCH_MIN_TERM}}`, 'u'), `must hold at least ${JOB_SEARCH_MIN_TERM} letters or digits in a row`);

/** The search filters, as they travel in JSON (a bulk command's `filter`, its progress). */
const jobFilterFields = {
  /** Any of these statuses. */
  status: z.array(jobStatus).min(1).max(jobStatus.options.length).optional(),
  queue: filterText.optional(),
  agent: filterText.optional(),
  user_id: opaqueId.optional(),
  worker_id: opaqueId.optional(),
  /** The platform the job came from (CONTRACT §5). */
  source: eventSource.optional(),
  /** Text found in the job's `type` or `error`, case-insensitively. */
  q: searchText.optional(),
  /** Created at or after this time. */
  from: filterTime.optional(),
  /** Created before this time. */
  to: filterTime.optional(),
};

function timesInOrder(filter: { from?: string; to?: string }, ctx: z.RefinementCtx): void {
  if (filter.from !== undefined && filter.to !== undefined && Date.parse(filter.from) > Date.parse(filter.to)) {
    ctx.addIssue({ code: 'custom', path: ['to'], message: 'must not be before from' });
  }
}

/**
 * The job search filters (CONTRACT §4), all optional, all combined (AND): `status` any of the
 * given statuses; `queue`, `agent`, `user_id`, `worker_id`, `source` exactly as stored; `q` a
 * case-insensitive substring of `type` or `error`; `from` ≤ created_at < `to`.
 */
export const jobFilter = z.strictObject(jobFilterFields).superRefine(timesInOrder);
export type JobFilter = z.infer<typeof jobFilter>;

/** A comma-separated list of statuses, each named once or more; empty items are refused. */
const statusList = z
  .string()
  .transform((list, ctx) => {
    const items = list.split(',');
    const statuses = new Set<z.infer<typeof jobStatus>>();
    for (const item of items) {
      const parsed = jobStatus.safeParse(item);
      if (!parsed.success) {
        ctx.addIssue({ code: 'custom', message: `unknown status '${item.length > 40 ? `${item.slice(0, 40)}…` : item}'; one or more of ${jobStatus.options.join(', ')}, comma separated` });
        return z.NEVER;
      }
      statuses.add(parsed.data);
    }
    return [...statuses];
  });

/** `limit` as digits only: `1e2`, `+5` or ` 5` are not numbers a client meant to send. */
const limitParam = z
  .string()
  .regex(/^\d{1,4}$/, `must be a whole number from 1 to ${JOB_SEARCH_MAX_LIMIT}`)
  .transform(Number)
  .pipe(z.number().int().min(1, `must be a whole number from 1 to ${JOB_SEARCH_MAX_LIMIT}`).max(JOB_SEARCH_MAX_LIMIT, `must be a whole number from 1 to ${JOB_SEARCH_MAX_LIMIT}`));

/** The opaque page cursor as it travels: base64url, short. What it holds is the api's business. */
export const jobSearchCursor = z.string().min(1).max(400).regex(/^[A-Za-z0-9_-]+$/, 'not a cursor this api gave out');

/**
 * `GET /api/admin/jobs` query parameters, as strings: the filters (`status` comma separated),
 * `limit` (1–500, default 50) and `cursor` (the previous page's `next_cursor`). Unknown parameters
 * are refused, each parameter may appear once.
 */
export const jobSearchQuery = z
  .strictObject({
    ...jobFilterFields,
    status: statusList.optional(),
    limit: limitParam.optional(),
    cursor: jobSearchCursor.optional(),
  })
  .superRefine(timesInOrder);
export type JobSearchQuery = z.output<typeof jobSearchQuery>;

/** `GET /api/admin/jobs` (200): newest first (created_at, then id, descending). */
export const jobSearchPage = z.object({
  items: z.array(jobSummary),
  /** Pass as `cursor` for the next page; null on the last page. */
  next_cursor: jobSearchCursor.nullable(),
});
export type JobSearchPage = z.infer<typeof jobSearchPage>;

// ---------------------------------------------------------------------------------------------
// Bulk commands: POST /api/admin/jobs/bulk, GET /api/admin/jobs/bulk/:bulk_id

/**
 * Most jobs one bulk command may act on. Each becomes a command on its source's stream, which
 * keeps ~100,000 entries: a bulk far larger could push its own commands out unread. A filter
 * matching more is refused (400); narrow it (by `from`/`to`, say) and send several.
 */
export const MAX_BULK_JOBS = 10_000;

/** `POST /api/admin/jobs/bulk`: retry or cancel every job the filter matches. */
export const bulkCommandRequest = z.strictObject({ action: commandAction, filter: jobFilter });
export type BulkCommandRequest = z.infer<typeof bulkCommandRequest>;

/** `POST /api/admin/jobs/bulk` (202). */
export const bulkCommandAccepted = z.object({
  bulk_id: z.uuid(),
  /** Jobs the filter matched when the bulk was asked for. */
  matched: count,
});
export type BulkCommandAccepted = z.infer<typeof bulkCommandAccepted>;

/**
 * `GET /api/admin/jobs/bulk/:bulk_id`: how far a bulk command has come. Each job that still
 * matches the filter when its batch runs is `queued` (a command for its platform, as
 * `POST /api/admin/jobs/:id/:action` would have made), `skipped` (its source or state does not
 * allow the action: `skipped_reasons` says why, and how often) or `failed` (kept but could not be
 * queued). `done` once every batch ran.
 */
export const bulkCommandProgress = z.object({
  bulk_id: z.uuid(),
  action: commandAction,
  filter: jobFilter,
  requested_by: z.string(),
  matched: count,
  queued: count,
  skipped: count,
  failed: count,
  skipped_reasons: z.array(z.object({ reason: z.string(), jobs: count })),
  done: z.boolean(),
  started_at: isoTime,
  finished_at: isoTime.nullable(),
});
export type BulkCommandProgress = z.infer<typeof bulkCommandProgress>;

// ---------------------------------------------------------------------------------------------
// The other answers, as schemas for the OpenAPI document; their types are declared beside the
// code that makes them, and `satisfies` keeps the two the same.

/** `POST /api/admin/jobs/:id/retry|cancel` (202). */
export const commandAccepted = z.object({ command_id: z.uuid() }) satisfies z.ZodType<CommandAccepted>;

/** `POST /api/events`: one event, or a batch of up to 500. */
export const ingestRequest = z.union([eventEnvelope, z.object({ events: z.array(eventEnvelope).min(1).max(MAX_EVENTS_PER_BATCH) })]);

/** `POST /api/events` (202). */
export const ingestAccepted = z.object({ accepted: count, duplicates: count, ids: z.array(opaqueId) }) satisfies z.ZodType<IngestResult>;

/** One problem of a refused batch, in `error.details`. */
export const ingestProblem = z.object({ index: count, field: z.string(), message: z.string() }) satisfies z.ZodType<IngestProblem>;

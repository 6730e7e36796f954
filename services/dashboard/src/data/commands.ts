import type { CommandAction, CommandRecord, JobStatus } from '@agentos/contracts';
import { BUILTIN_SOURCE_CAPABILITIES } from '@agentos/contracts';
import { type ApiClient, segment } from './api-client';
import { type JobFilters, normaliseFilters, statusList } from './jobs-search';

/**
 * Admin commands (CONTRACT §8): retry or cancel one job, or every job a search matches (bulk,
 * carried out by the api in bounded batches, with progress).
 */

export interface CommandAccepted {
  command_id: string;
}

export const requestCommand = (api: ApiClient, jobId: string, action: CommandAction): Promise<CommandAccepted> =>
  api.post<CommandAccepted>(`/api/admin/jobs/${segment(jobId)}/${action}`);

/** The command as the job detail shows it until the api lists it itself. */
export function requestedRecord(accepted: CommandAccepted, action: CommandAction, requestedBy: string, now = new Date()): CommandRecord {
  return { id: accepted.command_id, action, status: 'requested', requested_by: requestedBy, requested_at: now.toISOString(), error: null, completed_at: null };
}

/**
 * Whether the UI offers `action` for a job: the built-in sources' declared capabilities (a
 * platform's own, kept in Redis, are unknown here: offered, and the api answers 409 with the
 * reason when it cannot). Never a substitute for the api's check.
 */
export function offersAction(source: string, status: JobStatus, action: CommandAction): boolean {
  const capabilities = BUILTIN_SOURCE_CAPABILITIES[source];
  if (!capabilities) return source !== 'api';
  return capabilities[action]?.includes(status) ?? false;
}

export interface BulkAccepted {
  bulk_id: string;
  matched: number;
}

/** Progress of a bulk command (`GET /api/admin/jobs/bulk/:id`), as the view shows it. */
export interface BulkProgress {
  bulk_id: string;
  action: CommandAction;
  matched: number;
  /** Jobs handled so far: queued, skipped or failed. */
  processed: number;
  /** Commands queued for the jobs' platforms. */
  queued: number;
  /** Jobs whose source or state does not allow the action, with why. */
  skipped: number;
  skippedReasons: { reason: string; jobs: number }[];
  /** Jobs that could not be queued. */
  failed: number;
  done: boolean;
}

/** The search filters as a bulk command's JSON `filter` takes them: `status` a list, the rest as they are. */
export function bulkFilter(filters: JobFilters): Record<string, string | string[]> {
  const { status, ...rest } = normaliseFilters(filters);
  return { ...rest, ...(status ? { status: statusList(status) } : {}) };
}

export const startBulk = (api: ApiClient, action: CommandAction, filters: JobFilters): Promise<BulkAccepted> =>
  api.post<BulkAccepted>('/api/admin/jobs/bulk', { action, filter: bulkFilter(filters) });

export const bulkProgressKey = (id: string) => ['jobs', 'bulk', id] as const;

export async function fetchBulkProgress(api: ApiClient, id: string, signal?: AbortSignal): Promise<BulkProgress> {
  return readBulkProgress(await api.get<Record<string, unknown>>(`/api/admin/jobs/bulk/${segment(id)}`, signal), id);
}

/** The progress answer (contracts' `bulkCommandProgress`) as the view shows it; counters missing count 0. */
export function readBulkProgress(raw: Record<string, unknown>, id: string): BulkProgress {
  const num = (name: string) => (typeof raw[name] === 'number' && Number.isFinite(raw[name]) ? (raw[name] as number) : 0);
  const queued = num('queued');
  const skipped = num('skipped');
  const failed = num('failed');
  const reasons = Array.isArray(raw.skipped_reasons) ? raw.skipped_reasons : [];
  return {
    bulk_id: typeof raw.bulk_id === 'string' ? raw.bulk_id : id,
    action: raw.action === 'cancel' ? 'cancel' : 'retry',
    matched: num('matched'),
    processed: queued + skipped + failed,
    queued,
    skipped,
    skippedReasons: reasons.filter((r): r is { reason: string; jobs: number } => typeof r?.reason === 'string' && typeof r?.jobs === 'number'),
    failed,
    done: raw.done === true,
  };
}

export function bulkProgressQuery(api: ApiClient, id: string) {
  return {
    queryKey: bulkProgressKey(id),
    queryFn: ({ signal }: { signal: AbortSignal }) => fetchBulkProgress(api, id, signal),
    // Polled while it runs; the api carries it out in batches.
    refetchInterval: (query: { state: { data?: BulkProgress } }) => (query.state.data?.done ? false : 500),
  };
}

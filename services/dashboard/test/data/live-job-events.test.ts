// followJobEvents against a socket message that arrives before its effect is committed: the
// dispatcher publishes its socket messages beside the persist (and, paced, a batch interval before
// it), so the detail refetched on a `command:result` can still say "requested", and the one
// refetched on `job:cancelled` can still say "pending". Neither may stay shown.
import type { CommandRecord, JobDetail } from '@agentos/contracts';
import { QueryClient, QueryObserver } from '@tanstack/query-core';
import { jobDetailKey } from '../../src/data/job-detail';
import { jobsSearchKey, type JobsPage } from '../../src/data/jobs-search';
import { CONFIRM_DELAYS_MS, followJobEvents } from '../../src/data/live-job-events';
import { waitFor } from '../../../../test/support/wait';

const requested: CommandRecord = { id: 'c-1', action: 'cancel', status: 'requested', requested_by: 'auth0|admin', requested_at: '2026-12-03T10:01:00.000Z', error: null, completed_at: null };
const detail = { id: 'q:7', status: 'pending', commands: [requested], events: [], events_total: 0 } as unknown as JobDetail;

/** An open detail: a query with an observer, as the page's useQuery makes it (invalidation refetches only those). */
function watch(client: QueryClient, key: readonly unknown[]): () => void {
  return new QueryObserver(client, { queryKey: key }).subscribe(() => {});
}

function socket() {
  const listeners = new Map<string, (data: never, message: never) => void>();
  return {
    service: { on: (name: string, listener: (data: never, message: never) => void) => (listeners.set(name, listener), () => listeners.delete(name)) },
    emit: (name: string, data: unknown, timestamp = '2026-12-03T10:02:00.000Z') => listeners.get(name)!(data as never, { timestamp } as never),
    listeners,
  };
}

describe('followJobEvents', () => {
  it('keeps a command result it heard when the refetch it causes still lists the command as requested', async () => {
    const { service, emit } = socket();
    const client = new QueryClient();
    const key = jobDetailKey('q:7');
    // The api answers as it would before the dispatcher's commit: the job cancelled, the command not yet settled.
    let answer: JobDetail = { ...detail };
    client.setQueryDefaults(key, { queryFn: async () => answer, staleTime: 0 });
    await client.fetchQuery({ queryKey: key });
    const stop = followJobEvents(service as never, client);

    emit('command:result', { command_id: 'c-1', job_id: 'q:7', ok: true, id: 'ev-1' });
    answer = { ...detail, status: 'cancelled' } as JobDetail;
    await client.refetchQueries({ queryKey: key, exact: true });
    const shown = client.getQueryData<JobDetail>(key)!;
    expect(shown.status).toBe('cancelled');
    expect(shown.commands[0]).toMatchObject({ id: 'c-1', status: 'succeeded', completed_at: '2026-12-03T10:02:00.000Z' });

    // Another job's detail with a command of the same id is left alone.
    const other = jobDetailKey('q:8');
    client.setQueryDefaults(other, { queryFn: async () => ({ ...detail, id: 'q:8' }) as JobDetail });
    await client.fetchQuery({ queryKey: other });
    expect(client.getQueryData<JobDetail>(other)!.commands[0]!.status).toBe('requested');

    stop();
    client.clear();
  });

  it('fetches a detail again while it does not list the job event heard, and stops once it does', async () => {
    const { service, emit } = socket();
    const client = new QueryClient();
    const key = jobDetailKey('q:7');
    const cancelled = { id: 'ev-9', name: 'job:cancelled', occurred_at: '2026-12-03T10:02:00.000Z', source: 'bullmq', attempt: null, payload: {} };
    // The api answers from before the commit for the first three fetches after the event.
    let fetches = 0;
    let committedAfter = Infinity;
    client.setQueryDefaults(key, {
      queryFn: async () => {
        fetches += 1;
        return (fetches > committedAfter ? { ...detail, status: 'cancelled', events: [cancelled], events_total: 1 } : detail) as JobDetail;
      },
      staleTime: 0,
    });
    await client.fetchQuery({ queryKey: key });
    const unwatch = watch(client, key);
    const stop = followJobEvents(service as never, client);
    committedAfter = fetches + 3;

    emit('job:cancelled', { job_id: 'q:7', id: 'ev-9' });
    await waitFor(() => (expect(client.getQueryData<JobDetail>(key)!.status).toBe('cancelled'), true), { timeoutMs: 5_000, message: 'the detail shows the cancel' });
    const settled = fetches;
    expect(settled).toBe(committedAfter + 1);
    // Listed: no further fetch, however long one waits for the next delay.
    await new Promise((resolve) => setTimeout(resolve, CONFIRM_DELAYS_MS[3] + 100));
    expect(fetches).toBe(settled);
    stop();
    unwatch();
    client.clear();
  });

  it('gives up after its last delay when the event never shows, and leaves details it does not hold alone', async () => {
    const { service, emit } = socket();
    const client = new QueryClient();
    const key = jobDetailKey('q:7');
    let fetches = 0;
    client.setQueryDefaults(key, { queryFn: async () => ((fetches += 1), detail), staleTime: 0 });
    await client.fetchQuery({ queryKey: key });
    const unwatch = watch(client, key);
    const stop = followJobEvents(service as never, client);
    const before = fetches;
    emit('job:done', { job_id: 'q:7', id: 'ev-lost' });
    emit('job:done', { job_id: 'q:8', id: 'ev-other' }); // not cached: nothing fetched, nothing awaited
    const total = CONFIRM_DELAYS_MS.reduce((sum, ms) => sum + ms, 0);
    await waitFor(() => fetches - before === 1 + CONFIRM_DELAYS_MS.length, { timeoutMs: total + 3_000, message: 'one fetch on the event and one per delay' });
    await new Promise((resolve) => setTimeout(resolve, CONFIRM_DELAYS_MS.at(-1)! + 200));
    expect(fetches - before).toBe(1 + CONFIRM_DELAYS_MS.length);
    expect(client.getQueryData(jobDetailKey('q:8'))).toBeUndefined();
    stop();
    unwatch();
    client.clear();
  });

  it('shows a fetched detail in the search rows that list the job, and leaves other rows and pages alone', async () => {
    const { service } = socket();
    const client = new QueryClient();
    const row = (id: string, status: string) => ({ id, status, attempts: 1, error: null, finished_at: null }) as never;
    const search = jobsSearchKey({ queue: 'q' });
    const other = { items: [row('q:9', 'pending')], next_cursor: null } satisfies JobsPage;
    client.setQueryData(search, { pages: [{ items: [row('q:6', 'failed'), row('q:7', 'failed')], next_cursor: 'c' }, other], pageParams: [null, 'c'] });
    const stop = followJobEvents(service as never, client);
    const key = jobDetailKey('q:7');
    client.setQueryDefaults(key, { queryFn: async () => ({ ...detail, status: 'completed', attempts: 2, error: null, finished_at: '2026-12-03T10:03:00.000Z' }) as JobDetail });
    await client.fetchQuery({ queryKey: key });
    const data = client.getQueryData<{ pages: JobsPage[] }>(search)!;
    expect(data.pages[0]!.items.map((r) => [r.id, r.status, r.attempts, r.finished_at])).toEqual([
      ['q:6', 'failed', 1, null],
      ['q:7', 'completed', 2, '2026-12-03T10:03:00.000Z'],
    ]);
    // Keys the summary does not have are not added; the page without the job is the same object.
    expect(Object.keys(data.pages[0]!.items[1]!).sort()).toEqual(['attempts', 'error', 'finished_at', 'id', 'status']);
    expect(data.pages[1]).toBe(other);
    stop();
    client.clear();
  });
});

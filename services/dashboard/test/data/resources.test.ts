// The server resources: job search (filters ↔ URL, keyset pages), job detail (timeline, commands
// as requested and answered), commands and bulk progress, and the api client's errors. Against a
// fetch that answers as the api does, through TanStack Query's own client where it caches.
import type { JobDetail } from '@agentos/contracts';
import { InfiniteQueryObserver, QueryClient } from '@tanstack/query-core';
import { ApiError, createApiClient } from '../../src/data/api-client';
import { offersAction, readBulkProgress, requestCommand, requestedRecord, startBulk } from '../../src/data/commands';
import { hasPendingCommand, jobDetailKey, jobDetailQuery, timelineOf, withCommandResult, withRequestedCommand } from '../../src/data/job-detail';
import { activeFilterCount, filtersFromSearch, filtersToSearch, type JobsPage, jobsPagePath, jobsSearchKey, jobsSearchQuery, rowsOf, searchableText } from '../../src/data/jobs-search';
import { followJobEvents } from '../../src/data/live-job-events';

type Call = { url: string; method: string; headers: Record<string, string>; body?: string };

function fakeApi(answer: (call: Call) => { status: number; body?: unknown }) {
  const calls: Call[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    const call = { url, method: init.method ?? 'GET', headers: init.headers as Record<string, string>, body: init.body as string | undefined };
    calls.push(call);
    const { status, body } = answer(call);
    return new Response(body === undefined ? null : JSON.stringify(body), { status });
  }) as unknown as typeof globalThis.fetch;
  return { api: createApiClient({ baseUrl: 'http://api.test/', token: () => 'tok', fetch }), calls };
}

const job = (id: string) => ({ id, source: 'bullmq', queue: 'ingest', type: 'render', status: 'failed', user_id: null, agent: null, worker_id: null, attempts: 1, progress: 0, error: 'boom', duration_ms: null, created_at: '2026-12-03T10:00:00.000Z', started_at: null, finished_at: null });

describe('job search', () => {
  it('reads every filter from the URL and writes them back in one order, keeping other parameters', () => {
    const filters = filtersFromSearch('?queue=ingest&status=failed,cancelled&q=timeout&user_id=auth0%7C5f3a&job=42&limit=9&bogus=1&agent=');
    expect(filters).toEqual({ queue: 'ingest', status: 'failed,cancelled', q: 'timeout', user_id: 'auth0|5f3a' });
    expect(filtersToSearch({ ...filters, worker_id: 'celery@host-1' }, new URLSearchParams('job=42&status=pending')).toString()).toBe(
      'job=42&q=timeout&status=failed%2Ccancelled&queue=ingest&user_id=auth0%7C5f3a&worker_id=celery%40host-1',
    );
    expect(jobsSearchKey({ queue: 'a', q: '' })).toEqual(jobsSearchKey({ queue: 'a' }));
    expect(activeFilterCount({ q: ' ', queue: 'x' })).toBe(1);
    expect(jobsPagePath({ status: 'failed' }, 'abc_-1', 200)).toBe('/api/admin/jobs?status=failed&limit=200&cursor=abc_-1');
    expect([searchableText('ab'), searchableText('a-b-c'), searchableText('tim'), searchableText('été')]).toEqual([false, false, true, true]);
  });

  it('loads keyset pages one after another, each with the cursor the last one gave, and stops at null', async () => {
    const { api, calls } = fakeApi((call) => {
      const cursor = new URL(call.url).searchParams.get('cursor');
      const page = cursor === null ? 0 : Number(cursor.slice(1));
      return { status: 200, body: { items: [job(`j${page * 2}`), job(`j${page * 2 + 1}`)], next_cursor: page < 2 ? `c${page + 1}` : null } };
    });
    const client = new QueryClient();
    const observer = new InfiniteQueryObserver(client, jobsSearchQuery(api, { status: 'failed' }) as never);
    const unsubscribe = observer.subscribe(() => {});
    try {
      await client.fetchInfiniteQuery(jobsSearchQuery(api, { status: 'failed' }) as never);
      await observer.fetchNextPage();
      await observer.fetchNextPage();
      const result = observer.getCurrentResult();
      expect(result.hasNextPage).toBe(false);
      const pages = (result.data as { pages: JobsPage[] }).pages;
      expect(rowsOf(pages).rows.map((j) => j.id)).toEqual(['j0', 'j1', 'j2', 'j3', 'j4', 'j5']);
      // Pages appended to those read before: only theirs are added; other pages: read afresh.
      const two = rowsOf(pages.slice(0, 2));
      expect(rowsOf(pages, two).rows.map((j) => j.id)).toEqual(['j0', 'j1', 'j2', 'j3', 'j4', 'j5']);
      expect(two.rows.map((j) => j.id)).toEqual(['j0', 'j1', 'j2', 'j3']);
      expect(rowsOf(pages.slice(0, 2), two)).toBe(two);
      expect(rowsOf(pages.slice(1), two).rows.map((j) => j.id)).toEqual(['j2', 'j3', 'j4', 'j5']);
      expect(rowsOf([], two).rows).toEqual([]);
      expect(calls.map((c) => new URL(c.url).search)).toEqual(['?status=failed&limit=200', '?status=failed&limit=200&cursor=c1', '?status=failed&limit=200&cursor=c2']);
      expect(calls.every((c) => c.headers.authorization === 'Bearer tok')).toBe(true);
    } finally {
      unsubscribe();
      client.clear();
    }
  });

  it('turns a refused filter into an ApiError with the api’s code and message', async () => {
    const { api } = fakeApi(() => ({ status: 400, body: { error: { code: 'validation_error', message: 'q: must hold at least 3 letters or digits in a row' } } }));
    const error = await jobsSearchQuery(api, { q: 'ab' }).queryFn({ pageParam: null, signal: new AbortController().signal }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 400, code: 'validation_error', message: 'q: must hold at least 3 letters or digits in a row' });
    const { api: down } = fakeApi(() => {
      throw new TypeError('fetch failed');
    });
    await expect(down.get('/x')).rejects.toMatchObject({ status: 0, code: 'network_error' });
  });
});

describe('job detail and commands', () => {
  const detail: JobDetail = {
    ...(job('auth0|42') as unknown as JobDetail),
    updated_at: '2026-12-03T10:00:03.000Z',
    events_total: 3,
    commands: [],
    events: [
      { id: 'e3', name: 'job:failed', occurred_at: '2026-12-03T10:00:02.000Z', source: 'bullmq', attempt: 1, payload: {} },
      { id: 'e1', name: 'job:created', occurred_at: '2026-12-03T10:00:00.000Z', source: 'bullmq', attempt: null, payload: {} },
      { id: 'e2', name: 'job:processing', occurred_at: '2026-12-03T10:00:00.000Z', source: 'bullmq', attempt: 1, payload: {} },
    ],
  };

  it('reads a job by its opaque id and lists its events oldest first, in the api’s order for equal times', async () => {
    const { api, calls } = fakeApi(() => ({ status: 200, body: detail }));
    await jobDetailQuery(api, 'auth0|42').queryFn({ signal: new AbortController().signal });
    expect(calls[0]!.url).toBe('http://api.test/api/admin/jobs/auth0%7C42');
    expect(timelineOf(detail).map((e) => e.id)).toEqual(['e1', 'e2', 'e3']);
  });

  it('shows a command as requested from its 202, then as its platform answered', async () => {
    const { api, calls } = fakeApi(() => ({ status: 202, body: { command_id: '7b0f6c2e-3c1a-4a57-9d7e-2f1b8e0c9a11' } }));
    const accepted = await requestCommand(api, 'auth0|42', 'retry');
    expect(calls[0]).toMatchObject({ url: 'http://api.test/api/admin/jobs/auth0%7C42/retry', method: 'POST' });
    const asked = withRequestedCommand(detail, requestedRecord(accepted, 'retry', 'auth0|admin', new Date('2026-12-03T10:01:00Z')));
    expect(asked.commands).toEqual([{ id: accepted.command_id, action: 'retry', status: 'requested', requested_by: 'auth0|admin', requested_at: '2026-12-03T10:01:00.000Z', error: null, completed_at: null }]);
    expect(withRequestedCommand(asked, asked.commands[0]!)).toBe(asked);
    expect(hasPendingCommand(asked)).toBe(true);
    const failed = withCommandResult(asked, { command_id: accepted.command_id, ok: false, error: 'job is active' }, '2026-12-03T10:01:01.000Z');
    expect(failed.commands[0]).toMatchObject({ status: 'failed', error: 'job is active', completed_at: '2026-12-03T10:01:01.000Z' });
    expect(withCommandResult(asked, { command_id: 'another', ok: true }, 'x')).toBe(asked);
  });

  it('a 409 keeps the api’s reason', async () => {
    const { api } = fakeApi(() => ({ status: 409, body: { error: { code: 'conflict', message: "source 'celery' cannot retry jobs" } } }));
    await expect(requestCommand(api, 'x', 'retry')).rejects.toMatchObject({ status: 409, message: "source 'celery' cannot retry jobs" });
  });

  it('offers the actions a built-in source declares, nothing for jobs posted directly, and lets the api decide for others', () => {
    expect([offersAction('bullmq', 'failed', 'retry'), offersAction('bullmq', 'completed', 'retry'), offersAction('celery', 'failed', 'retry'), offersAction('celery', 'pending', 'cancel')]).toEqual([true, false, false, true]);
    expect([offersAction('api', 'failed', 'retry'), offersAction('acme', 'failed', 'retry')]).toEqual([false, true]);
  });

  it('follows the socket: a command:result marks the cached command at once and refreshes the job', async () => {
    const listeners = new Map<string, (data: never, message: never) => void>();
    const service = { on: (name: string, listener: (data: never, message: never) => void) => (listeners.set(name, listener), () => listeners.delete(name)) };
    const client = new QueryClient();
    const key = jobDetailKey('auth0|42');
    const cached = withRequestedCommand(detail, requestedRecord({ command_id: 'c-1' }, 'retry', 'me'));
    client.setQueryData(key, cached);
    const stop = followJobEvents(service as never, client);
    listeners.get('command:result')!({ command_id: 'c-1', job_id: 'auth0|42', ok: true, id: 'ev' } as never, { timestamp: '2026-12-03T10:02:00.000Z' } as never);
    expect(client.getQueryData<JobDetail>(key)!.commands[0]).toMatchObject({ status: 'succeeded', completed_at: '2026-12-03T10:02:00.000Z' });
    expect(client.getQueryState(key)!.isInvalidated).toBe(true);
    stop();
    expect(listeners.size).toBe(0);
    client.clear();
  });
});

describe('bulk commands', () => {
  it('posts the action with the filters as the route takes them, and reads progress', async () => {
    const { api, calls } = fakeApi(() => ({ status: 202, body: { bulk_id: 'b', matched: 3 } }));
    expect(await startBulk(api, 'cancel', { queue: 'ingest', q: '', status: 'pending,processing' })).toEqual({ bulk_id: 'b', matched: 3 });
    expect(JSON.parse(calls[0]!.body!)).toEqual({ action: 'cancel', filter: { queue: 'ingest', status: ['pending', 'processing'] } });
    expect(readBulkProgress({ bulk_id: 'b', action: 'cancel', matched: 10, queued: 4, skipped: 2, failed: 1, skipped_reasons: [{ reason: 'completed', jobs: 2 }], done: false }, 'b')).toEqual({
      bulk_id: 'b', action: 'cancel', matched: 10, processed: 7, queued: 4, skipped: 2, failed: 1, skippedReasons: [{ reason: 'completed', jobs: 2 }], done: false,
    });
  });
});

import type { JobSummary } from '@agentos/contracts';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useEffect, useId, useMemo, useRef, useState } from 'react';
import { useApp, usePreferences } from '../../app/context';
import { navigate } from '../../app/router';
import { Section } from '../../components/Section';
import { ApiError } from '../../data/api-client';
import { formatCount, inputToIso, isoToInput } from '../../data/format';
import { filtersToSearch, JOB_STATUSES, type JobFilters, type JobsPage, jobsSearchQuery, type LoadedRows, MIN_TERM, rowsOf, searchableText, statusList } from '../../data/jobs-search';
import { useLive } from '../../data/use-live';
import { BulkActions } from './BulkActions';
import { JobTable } from './JobTable';

interface JobSearchProps {
  filters: JobFilters;
  /** The page's query string (the open job is kept when the filters change). */
  search: string;
  openJob: string | null;
}

/** The search form (every filter of `GET /api/admin/jobs`, kept in the URL) and its results. */
export function JobSearch({ filters, search, openJob }: JobSearchProps) {
  const { api } = useApp();
  const query = useInfiniteQuery(jobsSearchQuery(api, filters));
  const rows = useLoadedRows(query.data?.pages);
  const error = query.error;
  const unavailable = error instanceof ApiError && (error.status === 404 || error.status === 501);

  return (
    <Section title="Jobs" className="job-search" actions={<BulkActions filters={filters} />}>
      <SearchForm filters={filters} search={search} />
      <p className="footnote" aria-live="polite" data-testid="search-count">
        {query.isPending
          ? 'Searching…'
          : error
            ? ''
            : `${formatCount(rows.length)}${query.hasNextPage ? '+' : ''} job${rows.length === 1 && !query.hasNextPage ? '' : 's'}${query.hasNextPage ? ' (more load as you scroll)' : ''}`}
      </p>
      {error && (
        <p className="notice notice-error" role="alert">
          {unavailable ? 'Job search is not available on this api yet.' : `Search failed: ${error.message}`}
        </p>
      )}
      {!error && (
        <JobTable
          rows={rows}
          hasMore={query.hasNextPage}
          loadingMore={query.isFetchingNextPage}
          onNeedMore={() => void (query.hasNextPage && !query.isFetchingNextPage && query.fetchNextPage())}
          openJob={openJob}
          search={search}
          pending={query.isPending}
        />
      )}
    </Section>
  );
}

const lines = (text: string | undefined): string[] => (text ? text.split('\n') : []);

/** The rows of the pages loaded, each new page adding only its own rows to those before. */
function useLoadedRows(pages: readonly JobsPage[] | undefined): readonly JobSummary[] {
  const loaded = useRef<LoadedRows | undefined>(undefined);
  return useMemo(() => (loaded.current = rowsOf(pages, loaded.current)).rows, [pages]);
}

function SearchForm({ filters, search }: { filters: JobFilters; search: string }) {
  const { timeZone } = usePreferences();
  const [draft, setDraft] = useState<JobFilters>(filters);
  // A new URL (back, a shared link, a reset) replaces what is typed.
  const key = JSON.stringify(filters);
  useEffect(() => setDraft(filters), [key]); // eslint-disable-line react-hooks/exhaustive-deps
  const ids = { q: useId(), queue: useId(), agent: useId(), source: useId(), user: useId(), worker: useId(), from: useId(), to: useId(), lists: useId() };
  // The names only, as one string: the form is drawn again when a queue or an agent comes or
  // goes, not with every count that moves.
  const queues = lines(useLive((v) => v.snapshot?.queue.queues.map((q) => q.name).join('\n')));
  const agents = lines(useLive((v) => v.snapshot?.agents_workers.agents.status.agents.map((a) => a.name).join('\n')));

  const statuses = statusList(draft.status);
  const toggleStatus = (status: string) =>
    setDraft((d) => {
      const current = statusList(d.status);
      const next = current.includes(status) ? current.filter((s) => s !== status) : [...current, status];
      return { ...d, status: JOB_STATUSES.filter((s) => next.includes(s)).join(',') || undefined };
    });
  const qProblem = draft.q && !searchableText(draft.q) ? `at least ${MIN_TERM} letters or digits in a row` : null;
  const set = (name: keyof JobFilters) => (event: { target: { value: string } }) => setDraft((d) => ({ ...d, [name]: event.target.value }));
  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    if (qProblem) return;
    const params = filtersToSearch(draft, new URLSearchParams(search));
    params.delete('job');
    const text = params.toString();
    navigate(`/queue${text ? `?${text}` : ''}`);
  };
  const reset = () => navigate('/queue');

  return (
    <form className="filters search-form" role="search" aria-label="Search jobs" onSubmit={submit}>
      <fieldset className="checks checks-row">
        <legend>Status</legend>
        {JOB_STATUSES.map((status) => (
          <label key={status}>
            <input type="checkbox" name="status" value={status} checked={statuses.includes(status)} onChange={() => toggleStatus(status)} /> {status}
          </label>
        ))}
      </fieldset>
      <div className="field field-grow">
        <label htmlFor={ids.q}>Text</label>
        <input id={ids.q} name="q" type="search" value={draft.q ?? ''} onChange={set('q')} placeholder="in type and error" aria-invalid={qProblem ? true : undefined} aria-describedby={qProblem ? `${ids.q}-problem` : undefined} />
        {qProblem && (
          <span id={`${ids.q}-problem`} className="field-problem">
            {qProblem}
          </span>
        )}
      </div>
      <div className="field">
        <label htmlFor={ids.queue}>Queue</label>
        <input id={ids.queue} name="queue" value={draft.queue ?? ''} onChange={set('queue')} list={`${ids.lists}-queues`} autoComplete="off" />
        <datalist id={`${ids.lists}-queues`}>{queues.map((name, i) => <option key={i} value={name} />)}</datalist>
      </div>
      <div className="field">
        <label htmlFor={ids.agent}>Agent</label>
        <input id={ids.agent} name="agent" value={draft.agent ?? ''} onChange={set('agent')} list={`${ids.lists}-agents`} autoComplete="off" />
        <datalist id={`${ids.lists}-agents`}>{agents.map((name, i) => <option key={i} value={name} />)}</datalist>
      </div>
      <div className="field">
        <label htmlFor={ids.source}>Source</label>
        <input id={ids.source} name="source" value={draft.source ?? ''} onChange={set('source')} placeholder="bullmq, celery…" autoComplete="off" />
      </div>
      <div className="field">
        <label htmlFor={ids.user}>User id</label>
        <input id={ids.user} name="user_id" value={draft.user_id ?? ''} onChange={set('user_id')} autoComplete="off" />
      </div>
      <div className="field">
        <label htmlFor={ids.worker}>Worker id</label>
        <input id={ids.worker} name="worker_id" value={draft.worker_id ?? ''} onChange={set('worker_id')} autoComplete="off" />
      </div>
      <div className="field">
        <label htmlFor={ids.from}>Created from ({timeZone === 'utc' ? 'UTC' : 'local'})</label>
        <input id={ids.from} name="from" type="datetime-local" value={isoToInput(draft.from, timeZone)} onChange={(e) => setDraft((d) => ({ ...d, from: inputToIso(e.target.value, timeZone) }))} />
      </div>
      <div className="field">
        <label htmlFor={ids.to}>Created to ({timeZone === 'utc' ? 'UTC' : 'local'})</label>
        <input id={ids.to} name="to" type="datetime-local" value={isoToInput(draft.to, timeZone)} onChange={(e) => setDraft((d) => ({ ...d, to: inputToIso(e.target.value, timeZone) }))} />
      </div>
      <div className="field field-buttons">
        <button type="submit" className="button button-primary">
          Search
        </button>
        <button type="button" className="button" onClick={reset}>
          Clear
        </button>
      </div>
    </form>
  );
}

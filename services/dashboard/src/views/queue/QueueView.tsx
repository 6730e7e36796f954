import type { QueueStats } from '@agentos/contracts';
import { Badge, StatusBadge } from '../../components/Badge';
import { Section } from '../../components/Section';
import { type Column, Table } from '../../components/Table';
import { Age } from '../../components/Time';
import { formatCount, formatSeconds } from '../../data/format';
import { filtersFromSearch } from '../../data/jobs-search';
import { useLive } from '../../data/use-live';
import { useLocation } from '../../app/router';
import { JOB_COLUMNS } from '../dashboard/DashboardView';
import { JobDetailPanel } from './JobDetailPanel';
import { JobSearch } from './JobSearch';

/** Queue depth and job management: per-queue figures, the jobs awaiting action, search, detail and commands. */
export function QueueView() {
  const { search } = useLocation();
  const params = new URLSearchParams(search);
  const filters = filtersFromSearch(params);
  const openJob = params.get('job');
  return (
    <div className="view view-queue">
      <h1 className="view-title">Queue</h1>
      <Queues />
      <AwaitingAction />
      <div className={`split ${openJob ? 'split-open' : ''}`}>
        <JobSearch filters={filters} search={search} openJob={openJob} />
        {openJob && <JobDetailPanel key={openJob} jobId={openJob} search={search} />}
      </div>
    </div>
  );
}

const QUEUE_COLUMNS: readonly Column<QueueStats>[] = [
  { key: 'name', header: 'Queue', cell: (q) => <strong className="truncate" title={q.name}>{q.name}</strong> },
  { key: 'pending', header: 'Pending', numeric: true, cell: (q) => <span data-testid={`queue-${q.name}-pending`}>{formatCount(q.pending)}</span> },
  { key: 'processing', header: 'Processing', numeric: true, cell: (q) => <span data-testid={`queue-${q.name}-processing`}>{formatCount(q.processing)}</span> },
  { key: 'failed', header: 'Failed (24 h)', numeric: true, cell: (q) => formatCount(q.failed) },
  { key: 'age', header: 'Oldest pending', numeric: true, cell: (q) => formatSeconds(q.oldest_pending_age_s) },
  {
    key: 'threshold',
    header: 'Threshold',
    numeric: true,
    cell: (q) => (
      <>
        {formatCount(q.pending_threshold)} {q.over_threshold && <Badge tone="bad">over</Badge>}
      </>
    ),
  },
  { key: 'state', header: 'State', cell: (q) => (q.paused ? <Badge tone="warn">paused</Badge> : <StatusBadge status="active" />) },
  { key: 'recommended', header: 'Recommended workers', numeric: true, cell: (q) => (q.recommended_workers === null ? <span className="muted">no advice yet</span> : formatCount(q.recommended_workers)) },
  {
    key: 'broker',
    header: 'Broker depth',
    numeric: true,
    cell: (q) =>
      q.broker ? (
        <span title={`${q.broker.source}, ${q.broker.workers ?? '?'} workers`}>
          {formatCount(q.broker.pending)} <span className="muted">({q.broker.source}, <Age iso={q.broker.at} />)</span>
        </span>
      ) : (
        <span className="muted">not reported</span>
      ),
  },
];

function Queues() {
  const queues = useLive((v) => v.snapshot?.queue.queues);
  return (
    <Section title="Queues" source="queue">
      <Table rows={queues ?? []} columns={QUEUE_COLUMNS} rowKey={(q) => q.name} caption="Queues" empty="No queues yet." />
      {queues && queues.some((q) => q.recommended_workers !== null) && (
        <p className="footnote">Scaling: {queues.filter((q) => q.recommended_workers !== null).map((q) => `${q.name} ${formatCount(q.recommended_workers)} recommended`).join(' · ')}. More in System.</p>
      )}
    </Section>
  );
}

function AwaitingAction() {
  const jobs = useLive((v) => v.snapshot?.queue.awaiting_action);
  return (
    <Section title="Awaiting action" source="queue">
      <Table rows={jobs ?? []} columns={JOB_COLUMNS} rowKey={(job) => job.id} caption="Jobs awaiting action" empty="Nothing awaits action: no recent failures, nothing long pending." />
    </Section>
  );
}

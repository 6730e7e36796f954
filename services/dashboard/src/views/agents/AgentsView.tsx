import type { AgentStatus } from '@agentos/contracts';
import { StatusBadge } from '../../components/Badge';
import { Section } from '../../components/Section';
import { type Column, Table } from '../../components/Table';
import { Age } from '../../components/Time';
import { formatCount, formatDuration, formatPercent } from '../../data/format';
import { createSelector } from '../../data/selectors';
import type { LiveView } from '../../data/live-store';
import { useLive } from '../../data/use-live';

/** The 11 pipeline agents in pipeline order. */
const selectAgents = createSelector(
  (view: LiveView) => [view.snapshot?.agents_workers.agents.status.agents],
  ([agents]) => (agents ? [...agents].sort((a, b) => a.stage - b.stage) : []),
);

const COLUMNS: readonly Column<AgentStatus>[] = [
  { key: 'stage', header: 'Stage', numeric: true, cell: (a) => a.stage },
  { key: 'name', header: 'Agent', cell: (a) => <strong>{a.name}</strong> },
  { key: 'description', header: 'Does', cell: (a) => <span className="muted">{a.description}</span>, className: 'col-wide' },
  { key: 'status', header: 'Status', cell: (a) => <StatusBadge status={a.status} /> },
  { key: 'active', header: 'Active jobs', numeric: true, cell: (a) => formatCount(a.active_jobs) },
  { key: 'processed', header: 'Processed', numeric: true, cell: (a) => formatCount(a.jobs_processed) },
  { key: 'failed', header: 'Errors', numeric: true, cell: (a) => formatCount(a.jobs_failed) },
  { key: 'rate', header: 'Error rate', numeric: true, cell: (a) => (a.jobs_processed + a.jobs_failed > 0 ? formatPercent((a.jobs_failed / (a.jobs_processed + a.jobs_failed)) * 100) : '—') },
  { key: 'avg', header: 'Avg time', numeric: true, cell: (a) => formatDuration(a.avg_duration_ms) },
  { key: 'last', header: 'Last activity', cell: (a) => <Age iso={a.last_active_at} /> },
];

export function AgentsView() {
  const agents = useLive(selectAgents);
  const totals = useLive((v) => v.snapshot?.agents_workers.agents.status);
  return (
    <div className="view view-agents">
      <h1 className="view-title">Agents</h1>
      <Section title={totals ? `Pipeline: ${totals.active_agents} of ${totals.total_agents} active` : 'Pipeline'} source="agents_workers">
        <Table rows={agents} columns={COLUMNS} rowKey={(a) => a.id} caption="Pipeline agents in order" empty="No agents reported." />
      </Section>
    </div>
  );
}

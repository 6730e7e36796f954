import type { AgentStatus, JobSummary, WorkerDetail } from '@agentos/contracts';
import { memo } from 'react';
import { Badge, StatusBadge } from '../../components/Badge';
import { Empty } from '../../components/Empty';
import { Link } from '../../components/Link';
import { Section } from '../../components/Section';
import { Stat, StatGrid } from '../../components/Stat';
import { type Column, Table } from '../../components/Table';
import { Age, Time } from '../../components/Time';
import { formatCount, formatDuration, formatPercent, formatSeconds } from '../../data/format';
import { useLive } from '../../data/use-live';

/** The seed's first view: workers, jobs, queue and agents at a glance. */
export function DashboardView() {
  return (
    <div className="view view-dashboard">
      <h1 className="view-title">Dashboard</h1>
      <div className="grid grid-2">
        <SystemStatus />
        <Counts />
      </div>
      <Workers />
      <div className="grid grid-2-1">
        <RecentJobs />
        <AgentSummary />
      </div>
    </div>
  );
}

function SystemStatus() {
  const system = useLive((v) => v.snapshot?.dashboard.system);
  // The two counts, not the workers object: that changes with every heartbeat.
  const active = useLive((v) => v.snapshot?.dashboard.workers.active);
  const total = useLive((v) => v.snapshot?.dashboard.workers.total);
  const generatedAt = useLive((v) => v.snapshot?.meta.generated_at);
  return (
    <Section title="System" source="dashboard">
      <StatGrid label="System status">
        <Stat label="Status" value={system ? <StatusBadge status={system.status} /> : '—'} />
        <Stat label="Uptime" value={formatSeconds(system?.uptime)} />
        <Stat label="Worker CPU" value={formatPercent(system?.cpu_usage)} />
        <Stat label="Workers" value={total !== undefined ? `${formatCount(active)} / ${formatCount(total)}` : '—'} hint="active / total" />
      </StatGrid>
      <p className="footnote">
        Snapshot built <Age iso={generatedAt} />
      </p>
    </Section>
  );
}

function Counts() {
  const queue = useLive((v) => v.snapshot?.dashboard.queue);
  const jobs = useLive((v) => v.snapshot?.dashboard.jobs.total_today);
  const unread = useLive((v) => v.snapshot?.dashboard.notifications.unread);
  return (
    <Section title="Jobs and queue" source="dashboard">
      <StatGrid label="Queue counts">
        <Stat label="Pending" value={<span data-testid="queue-pending">{formatCount(queue?.pending)}</span>} />
        <Stat label="Processing" value={<span data-testid="queue-processing">{formatCount(queue?.processing)}</span>} />
        <Stat label="Completed (24 h)" value={<span data-testid="queue-completed">{formatCount(queue?.completed)}</span>} />
        <Stat label="Jobs today" value={<span data-testid="jobs-today">{formatCount(jobs)}</span>} />
        <Stat label="Unread notifications" value={formatCount(unread)} tone={unread ? 'warn' : undefined} />
      </StatGrid>
    </Section>
  );
}

function Workers() {
  const details = useLive((v) => v.snapshot?.dashboard.workers.details);
  return (
    <Section title="Workers" source="dashboard">
      {!details || details.length === 0 ? <Empty>No workers have reported a heartbeat.</Empty> : (
        <ul className="cards" aria-label="Workers">
          {details.map((worker) => (
            <WorkerCard key={worker.id} worker={worker} />
          ))}
        </ul>
      )}
    </Section>
  );
}

/** One worker, drawn again only when its own object changed (a heartbeat touches one card, not twelve). */
const WorkerCard = memo(function WorkerCard({ worker }: { worker: WorkerDetail }) {
  const load = worker.concurrency > 0 ? Math.min(100, (worker.active_jobs / worker.concurrency) * 100) : 0;
  return (
    <li className="card">
      <div className="card-head">
        <span className="card-title truncate" title={worker.id}>
          {worker.hostname || worker.id}
        </span>
        <StatusBadge status={worker.status} />
      </div>
      <div className="card-sub truncate" title={worker.id}>
        {worker.id}
      </div>
      <div className="meter" role="meter" aria-label={`${worker.hostname || worker.id} load`} aria-valuemin={0} aria-valuemax={worker.concurrency} aria-valuenow={worker.active_jobs}>
        <span style={{ width: `${load}%` }} />
      </div>
      <dl className="card-facts">
        <div>
          <dt>Jobs</dt>
          <dd>
            {worker.active_jobs} / {worker.concurrency}
          </dd>
        </div>
        <div>
          <dt>CPU</dt>
          <dd>{worker.cpu === null ? '—' : formatPercent(worker.cpu, 0)}</dd>
        </div>
        <div>
          <dt>Memory</dt>
          <dd>{worker.memory_mb === null ? '—' : `${formatCount(worker.memory_mb)} MB`}</dd>
        </div>
        <div>
          <dt>Heartbeat</dt>
          <dd>
            <Age iso={worker.last_heartbeat} />
          </dd>
        </div>
      </dl>
      <div className="card-tags" aria-label="Queues">
        {worker.queues.map((queue) => (
          <Badge key={queue}>{queue}</Badge>
        ))}
        {worker.source === 'record' && <Badge tone="warn" title="No live heartbeat: from the database record">record only</Badge>}
      </div>
    </li>
  );
});

export const JOB_COLUMNS: readonly Column<JobSummary>[] = [
  { key: 'id', header: 'Job', cell: (job) => <Link to={`/queue?job=${encodeURIComponent(job.id)}`} className="mono truncate" title={job.id}>{job.id}</Link>, className: 'col-id' },
  { key: 'type', header: 'Type', cell: (job) => <span className="truncate" title={job.type}>{job.type}</span> },
  { key: 'queue', header: 'Queue', cell: (job) => job.queue },
  { key: 'status', header: 'Status', cell: (job) => <StatusBadge status={job.status} /> },
  { key: 'agent', header: 'Agent', cell: (job) => job.agent ?? <span className="muted">—</span> },
  { key: 'duration', header: 'Duration', numeric: true, cell: (job) => formatDuration(job.duration_ms) },
  { key: 'created', header: 'Created', cell: (job) => <Time iso={job.created_at} /> },
];

function RecentJobs() {
  const jobs = useLive((v) => v.snapshot?.dashboard.jobs.recent_jobs);
  return (
    <Section title="Recent jobs" source="dashboard">
      <Table rows={jobs ?? []} columns={JOB_COLUMNS} rowKey={(job) => job.id} caption="Recent jobs" empty="No jobs yet." />
    </Section>
  );
}

function AgentSummary() {
  const status = useLive((v) => v.snapshot?.agents_workers.agents.status);
  return (
    <Section title="Agents" source="agents_workers" actions={<Link to="/agents">All agents</Link>}>
      <StatGrid label="Agents">
        <Stat label="Active" value={status ? `${status.active_agents} / ${status.total_agents}` : '—'} />
      </StatGrid>
      {!status || status.agents.length === 0 ? <Empty>No agents reported.</Empty> : (
        <ol className="agent-strip" aria-label="Pipeline">
          {[...status.agents].sort((a, b) => a.stage - b.stage).map((agent: AgentStatus) => (
            <li key={agent.id} className={`agent-chip agent-${agent.status}`} title={`${agent.stage}. ${agent.name}: ${agent.status}`}>
              <span className="agent-stage">{agent.stage}</span>
              <span className="truncate">{agent.name}</span>
              <StatusBadge status={agent.status} />
            </li>
          ))}
        </ol>
      )}
    </Section>
  );
}

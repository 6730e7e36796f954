import type { JobStatus } from '@agentos/contracts';
import { StatusBadge } from '../../components/Badge';
import { LiveChart } from '../../components/LiveChart';
import { Section } from '../../components/Section';
import { Stat, StatGrid } from '../../components/Stat';
import { type Column, Table } from '../../components/Table';
import { meanPerMinute, SERIES, selectPerHour, selectPerMinute } from '../../data/analytics';
import { formatCount, formatDuration, formatPercent } from '../../data/format';
import { useLive } from '../../data/use-live';

/** Time-based metrics over the last 24 hours (the analytics window) and the last hour. */
export function AnalyticsView() {
  return (
    <div className="view view-analytics">
      <h1 className="view-title">Analytics</h1>
      <Figures />
      <Section title="Jobs per minute, last hour" source="analytics">
        <LiveChart select={selectPerMinute} series={SERIES} label="Jobs created per minute over the last hour, by final status" />
      </Section>
      <Section title="Jobs per hour, last 24 hours" source="analytics">
        <LiveChart select={selectPerHour} series={SERIES} label="Jobs created per hour over the last 24 hours, by final status" />
      </Section>
      <ByStatus />
    </div>
  );
}

function Figures() {
  const analytics = useLive((v) => v.snapshot?.analytics);
  return (
    <Section title="Last 24 hours" source="analytics">
      <StatGrid label="Analytics figures">
        <Stat label="Success rate" value={<span data-testid="success-rate">{formatPercent(analytics?.success_rate)}</span>} hint="completed / finished" />
        <Stat label="Average processing time" value={<span data-testid="avg-time">{formatDuration(analytics?.avg_processing_time)}</span>} />
        <Stat label="p95 processing time" value={<span data-testid="p95-time">{formatDuration(analytics?.p95_processing_time)}</span>} />
        <Stat label="Jobs per minute (last hour)" value={analytics ? meanPerMinute(analytics).toFixed(1) : '—'} />
      </StatGrid>
    </Section>
  );
}

const STATUS_COLUMNS: readonly Column<[string, number]>[] = [
  { key: 'status', header: 'Status', cell: ([status]) => <StatusBadge status={status} /> },
  { key: 'count', header: 'Jobs', numeric: true, cell: ([, count]) => formatCount(count) },
];

function ByStatus() {
  const byStatus = useLive((v) => v.snapshot?.analytics.by_status);
  const rows = byStatus ? (Object.entries(byStatus) as [JobStatus, number][]) : [];
  return (
    <Section title="By status, last 24 hours" source="analytics">
      <Table rows={rows} columns={STATUS_COLUMNS} rowKey={([status]) => status} caption="Jobs by status" empty="No jobs in the window." />
    </Section>
  );
}

import type { Notification, ServiceStatus } from '@agentos/contracts';
import { Badge, StatusBadge } from '../../components/Badge';
import { Empty } from '../../components/Empty';
import { Section } from '../../components/Section';
import { type Column, Table } from '../../components/Table';
import { Age, Time } from '../../components/Time';
import { formatCount, formatDuration } from '../../data/format';
import type { LiveView } from '../../data/live-store';
import { type Platform, platformsOf } from '../../data/platforms';
import { describeChange, type ScalingAdvice, scalingAdvice } from '../../data/scaling';
import { createSelector } from '../../data/selectors';
import { useLive } from '../../data/use-live';

const selectServices = createSelector(
  (view: LiveView) => [view.snapshot?.system_control.services_status],
  ([services]) => (services ? Object.entries(services).sort(([a], [b]) => a.localeCompare(b)) : []),
);
const selectPlatforms = createSelector(
  (view: LiveView) => [view.snapshot?.dashboard, view.snapshot?.queue, view.snapshot?.system_control],
  ([dashboard, queue, system_control]) => (dashboard && queue && system_control ? platformsOf({ dashboard, queue, system_control }) : []),
);
const selectScaling = createSelector(
  (view: LiveView) => [view.snapshot?.dashboard, view.snapshot?.queue],
  ([dashboard, queue]) => (dashboard && queue ? scalingAdvice({ dashboard, queue }) : []),
);

/** Services, their heartbeats, the configuration, notifications and alerts, scaling, and the platforms feeding the SSOT. */
export function SystemView() {
  return (
    <div className="view view-system">
      <h1 className="view-title">System</h1>
      <div className="grid grid-2">
        <Services />
        <HealthCheck />
      </div>
      <Notifications />
      <div className="grid grid-2">
        <Scaling />
        <Platforms />
      </div>
      <Configuration />
    </div>
  );
}

const SERVICE_COLUMNS: readonly Column<[string, ServiceStatus]>[] = [
  { key: 'name', header: 'Service', cell: ([name]) => <strong>{name}</strong> },
  { key: 'status', header: 'Status', cell: ([, s]) => <StatusBadge status={s.status} /> },
  { key: 'replicas', header: 'Replicas', numeric: true, cell: ([, s]) => `${s.replicas} / ${s.desired_replicas}` },
  { key: 'heartbeat', header: 'Last heartbeat', cell: ([, s]) => <Age iso={s.last_heartbeat} /> },
  { key: 'version', header: 'Version', cell: ([, s]) => s.version ?? <span className="muted">—</span> },
];

function Services() {
  const services = useLive(selectServices);
  return (
    <Section title="Services" source="system_control">
      <Table rows={services} columns={SERVICE_COLUMNS} rowKey={([name]) => name} caption="Services and replicas" empty="No service has reported a heartbeat." />
    </Section>
  );
}

function HealthCheck() {
  const check = useLive((v) => v.snapshot?.system_control.health_check);
  return (
    <Section title="Health check" source="system_control">
      {!check ? <Empty>No health check yet (the cache-warmer sends one every 30 s).</Empty> : (
        <>
          <p className="footnote">
            At <Time iso={check.at} /> — Redis {formatDuration(check.redis_ms)}, database {formatDuration(check.database_ms)}
          </p>
          <ul className="inline-list">
            {Object.entries(check.services).map(([name, status]) => (
              <li key={name}>
                {name} <StatusBadge status={status} />
              </li>
            ))}
          </ul>
        </>
      )}
    </Section>
  );
}

const SEVERITY_TONE = { info: 'info', warning: 'warn', critical: 'bad' } as const;

function Notifications() {
  const notifications = useLive((v) => v.snapshot?.dashboard.notifications);
  return (
    <Section title={`Notifications and alerts${notifications?.unread ? ` (${notifications.unread} unread)` : ''}`} source="dashboard">
      {!notifications || notifications.recent.length === 0 ? <Empty>No notifications or alerts.</Empty> : (
        <ol className="notifications" tabIndex={0} aria-label="Notifications and alerts, newest first">
          {notifications.recent.map((n: Notification) => (
            <li key={n.id} className={`notification severity-${n.severity} ${n.read ? '' : 'unread'}`}>
              <div className="notification-head">
                <Badge tone={SEVERITY_TONE[n.severity]}>{n.severity}</Badge>
                <strong>{n.title}</strong>
                <span className="muted">{n.kind}</span>
                <Time iso={n.created_at} />
              </div>
              <p>{n.message}</p>
            </li>
          ))}
        </ol>
      )}
    </Section>
  );
}

const SCALING_COLUMNS: readonly Column<ScalingAdvice>[] = [
  { key: 'queue', header: 'Queue', cell: (a) => <strong>{a.queue}</strong> },
  { key: 'pending', header: 'Pending', numeric: true, cell: (a) => formatCount(a.pending) },
  { key: 'workers', header: 'Workers', numeric: true, cell: (a) => formatCount(a.workers) },
  { key: 'recommended', header: 'Recommended', numeric: true, cell: (a) => formatCount(a.recommended) },
  { key: 'advice', header: 'Advice', cell: (a) => <Badge tone={a.change === null || a.change === 0 ? 'muted' : a.change > 0 ? 'warn' : 'info'}>{describeChange(a.change)}</Badge> },
];

function Scaling() {
  const advice = useLive(selectScaling);
  return (
    <Section title="Scaling recommendations" source="queue">
      <Table rows={advice} columns={SCALING_COLUMNS} rowKey={(a) => a.queue} caption="Scaling recommendations per queue" empty="No queues." />
    </Section>
  );
}

const PLATFORM_COLUMNS: readonly Column<Platform>[] = [
  { key: 'source', header: 'Platform', cell: (p) => <strong>{p.source}</strong> },
  { key: 'jobs', header: 'Recent jobs', numeric: true, cell: (p) => formatCount(p.jobsSeen) },
  { key: 'broker', header: 'Broker stats for', cell: (p) => (p.brokerQueues.length ? p.brokerQueues.join(', ') : <span className="muted">—</span>) },
  { key: 'bridge', header: 'Bridge', cell: (p) => (p.bridge ? <>{p.bridge.name} <StatusBadge status={p.bridge.status} /></> : <span className="muted">none</span>) },
];

function Platforms() {
  const platforms = useLive(selectPlatforms);
  return (
    <Section title="Platforms feeding the SSOT" source="queue">
      <Table rows={platforms} columns={PLATFORM_COLUMNS} rowKey={(p) => p.source} caption="Platforms feeding the SSOT" empty="No platform has sent jobs or broker stats yet." />
    </Section>
  );
}

function Configuration() {
  const config = useLive((v) => v.snapshot?.configuration);
  return (
    <Section title="Configuration (read-only)" source="configuration">
      {!config ? <Empty>No configuration in the snapshot.</Empty> : (
        <div className="grid grid-3">
          <dl className="kv" aria-label="General">
            <dt>Minimum workers</dt>
            <dd>{config.minimum_workers}</dd>
            <dt>Warm interval</dt>
            <dd>{formatDuration(config.intervals.warm_interval_ms)}</dd>
            <dt>Snapshot TTL</dt>
            <dd>{config.intervals.snapshot_ttl_s} s</dd>
            <dt>Heartbeat TTL</dt>
            <dd>{config.intervals.heartbeat_ttl_s} s</dd>
          </dl>
          <dl className="kv" aria-label="Queue thresholds">
            {Object.entries(config.queue_thresholds).map(([queue, threshold]) => (
              <div key={queue} className="kv-row">
                <dt>Threshold: {queue}</dt>
                <dd>{formatCount(threshold)} pending</dd>
              </div>
            ))}
          </dl>
          <dl className="kv" aria-label="Other settings">
            {Object.entries(config.settings).map(([key, value]) => (
              <div key={key} className="kv-row">
                <dt className="truncate" title={key}>{key}</dt>
                <dd className="mono break">{typeof value === 'string' ? value : JSON.stringify(value)}</dd>
              </div>
            ))}
          </dl>
        </div>
      )}
    </Section>
  );
}

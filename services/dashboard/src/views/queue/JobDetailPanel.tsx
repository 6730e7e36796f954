import type { CommandAction, CommandRecord, JobDetail } from '@agentos/contracts';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useApp } from '../../app/context';
import { withParams } from '../../app/router';
import { StatusBadge } from '../../components/Badge';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { Empty } from '../../components/Empty';
import { LazyJson } from '../../components/LazyJson';
import { Link } from '../../components/Link';
import { Section } from '../../components/Section';
import { Time } from '../../components/Time';
import { ApiError } from '../../data/api-client';
import { offersAction, requestCommand, requestedRecord } from '../../data/commands';
import { formatCount, formatDuration } from '../../data/format';
import { jobDetailKey, jobDetailQuery, timelineOf, withRequestedCommand } from '../../data/job-detail';

/** One job: its facts, error, commands, retry and cancel, and its event history as a timeline. */
export function JobDetailPanel({ jobId, search }: { jobId: string; search: string }) {
  const { api } = useApp();
  const { data, error, isPending } = useQuery(jobDetailQuery(api, jobId));
  const close = (
    <Link to={`/queue${withParams(search, { job: null })}`} className="button button-small" aria-label="Close the job detail">
      Close
    </Link>
  );
  return (
    <Section title={`Job ${jobId}`} className="job-detail" actions={close}>
      {isPending && <p className="muted">Reading the job…</p>}
      {error && (
        <p className="notice notice-error" role="alert">
          {error instanceof ApiError && error.status === 404 ? `No job “${jobId}”.` : `Could not read the job: ${error.message}`}
        </p>
      )}
      {data && <Detail job={data} />}
    </Section>
  );
}

function Detail({ job }: { job: JobDetail }) {
  const timeline = timelineOf(job);
  return (
    <div className="detail" data-testid="job-detail" data-status={job.status}>
      <dl className="kv kv-2">
        <dt>Status</dt>
        <dd data-testid="job-status">
          <StatusBadge status={job.status} /> {job.progress > 0 && job.progress < 100 && <span className="muted">{job.progress} %</span>}
        </dd>
        <dt>Source</dt>
        <dd>{job.source}</dd>
        <dt>Queue</dt>
        <dd>{job.queue}</dd>
        <dt>Type</dt>
        <dd className="break">{job.type}</dd>
        <dt>Agent</dt>
        <dd>{job.agent ?? '—'}</dd>
        <dt>Worker</dt>
        <dd className="mono break">{job.worker_id ?? '—'}</dd>
        <dt>User</dt>
        <dd className="mono break">{job.user_id ?? '—'}</dd>
        <dt>Attempts</dt>
        <dd>{job.attempts}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(job.duration_ms)}</dd>
        <dt>Created</dt>
        <dd>
          <Time iso={job.created_at} />
        </dd>
        <dt>Started</dt>
        <dd>
          <Time iso={job.started_at} />
        </dd>
        <dt>Finished</dt>
        <dd>
          <Time iso={job.finished_at} />
        </dd>
      </dl>
      {job.error && (
        <div className="job-error">
          <h3>Error</h3>
          <pre className="error-text break" data-testid="job-error">
            {job.error}
          </pre>
        </div>
      )}
      <Actions job={job} />
      <Commands commands={job.commands} source={job.source} />
      <h3>History</h3>
      {job.events_total > job.events.length && (
        <p className="footnote">
          The first {formatCount(job.events.length)} of {formatCount(job.events_total)} events.
        </p>
      )}
      {timeline.length === 0 ? <Empty>No events recorded for this job.</Empty> : (
        <ol className="timeline" aria-label="Event history, oldest first" data-testid="job-timeline">
          {timeline.map((event) => (
            <li key={event.id} className={`timeline-item event-${event.name.replace(':', '-')}`} data-event-id={event.id}>
              <div className="timeline-head">
                <strong className="timeline-name">{event.name}</strong>
                <Time iso={event.occurred_at} />
                <span className="muted">{event.source}</span>
                {event.attempt !== null && <span className="muted">attempt {event.attempt}</span>}
              </div>
              <LazyJson value={event.payload} />
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

function Actions({ job }: { job: JobDetail }) {
  const { api, session } = useApp();
  const queryClient = useQueryClient();
  const [asking, setAsking] = useState<CommandAction | null>(null);
  const mutation = useMutation({
    mutationFn: (action: CommandAction) => requestCommand(api, job.id, action),
    onSuccess: (accepted, action) => {
      queryClient.setQueryData<JobDetail>(jobDetailKey(job.id), (detail) => (detail ? withRequestedCommand(detail, requestedRecord(accepted, action, session.subject)) : detail));
      setAsking(null);
      void queryClient.invalidateQueries({ queryKey: jobDetailKey(job.id), exact: true });
    },
  });
  const offered = (['retry', 'cancel'] as const).filter((action) => offersAction(job.source, job.status, action));
  const refusal = mutation.error instanceof ApiError && mutation.error.status === 409 ? mutation.error.message : mutation.error?.message;
  return (
    <div className="actions">
      {offered.length === 0 ? (
        <p className="footnote">No command applies: {job.source === 'api' ? 'jobs posted directly have no platform to carry one out' : `“${job.source}” cannot retry or cancel a ${job.status} job`}.</p>
      ) : (
        offered.map((action) => (
          <button key={action} type="button" className={`button ${action === 'cancel' ? 'button-danger' : 'button-primary'}`} onClick={() => setAsking(action)}>
            {action === 'retry' ? 'Retry' : 'Cancel'}
          </button>
        ))
      )}
      {refusal && !asking && (
        <p className="notice notice-error" role="alert">
          Refused: {refusal}
        </p>
      )}
      <ConfirmDialog
        open={asking !== null}
        title={asking === 'cancel' ? 'Cancel this job?' : 'Retry this job?'}
        confirmLabel={asking === 'cancel' ? 'Cancel the job' : 'Retry the job'}
        danger={asking === 'cancel'}
        busy={mutation.isPending}
        onConfirm={() => asking && mutation.mutate(asking)}
        onClose={() => setAsking(null)}
      >
        <p>
          {asking === 'cancel' ? 'Cancel' : 'Retry'} job <code className="break">{job.id}</code> on {job.source}? The platform carries it out; its answer shows here.
        </p>
      </ConfirmDialog>
    </div>
  );
}

function Commands({ commands, source }: { commands: readonly CommandRecord[]; source: string }) {
  if (commands.length === 0) return null;
  return (
    <>
      <h3>Commands</h3>
      <ul className="commands" data-testid="job-commands">
        {commands.map((command) => (
          <li key={command.id} data-command-id={command.id} data-status={command.status}>
            <strong>{command.action}</strong> <StatusBadge status={command.status} />{' '}
            {command.status === 'requested' ? <span className="muted">waiting for {source} to answer</span> : command.error && <span className="error-text">{command.error}</span>}{' '}
            <span className="muted">
              by <span className="break">{command.requested_by}</span>, <Time iso={command.requested_at} />
            </span>
          </li>
        ))}
      </ul>
    </>
  );
}

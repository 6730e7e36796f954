import type { CommandAction } from '@agentos/contracts';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useApp } from '../../app/context';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { type BulkAccepted, bulkProgressQuery, startBulk } from '../../data/commands';
import { formatCount } from '../../data/format';
import { activeFilterCount, type JobFilters, normaliseFilters } from '../../data/jobs-search';

/** Retry or cancel every job the search matches, carried out by the api in batches, with progress. */
export function BulkActions({ filters }: { filters: JobFilters }) {
  const { api } = useApp();
  const [asking, setAsking] = useState<CommandAction | null>(null);
  const [started, setStarted] = useState<(BulkAccepted & { action: CommandAction }) | null>(null);
  const mutation = useMutation({
    mutationFn: (action: CommandAction) => startBulk(api, action, filters),
    onSuccess: (accepted, action) => {
      setStarted({ ...accepted, action });
      setAsking(null);
    },
  });
  const described = Object.entries(normaliseFilters(filters)).map(([k, v]) => `${k} = ${v}`).join(', ');

  return (
    <div className="bulk">
      <button type="button" className="button button-small" onClick={() => setAsking('retry')}>
        Retry all matching
      </button>
      <button type="button" className="button button-small button-danger" onClick={() => setAsking('cancel')}>
        Cancel all matching
      </button>
      {started && <BulkProgressLine id={started.bulk_id} action={started.action} matched={started.matched} />}
      <ConfirmDialog
        open={asking !== null}
        title={asking === 'cancel' ? 'Cancel every matching job?' : 'Retry every matching job?'}
        confirmLabel={asking === 'cancel' ? 'Cancel them' : 'Retry them'}
        danger={asking === 'cancel'}
        busy={mutation.isPending}
        onConfirm={() => asking && mutation.mutate(asking)}
        onClose={() => {
          setAsking(null);
          mutation.reset();
        }}
      >
        <p>
          {activeFilterCount(filters) === 0 ? <strong>No filter is set: this is every job.</strong> : <>Jobs where {described}.</>} Each becomes a command for its
          platform; jobs whose platform or state does not allow it are skipped.
        </p>
        {mutation.error && (
          <p className="notice notice-error" role="alert">
            {mutation.error.message}
          </p>
        )}
      </ConfirmDialog>
    </div>
  );
}

function BulkProgressLine({ id, action, matched }: { id: string; action: CommandAction; matched: number }) {
  const { api } = useApp();
  const { data, error } = useQuery(bulkProgressQuery(api, id));
  const processed = data?.processed ?? 0;
  const total = data?.matched ?? matched;
  return (
    <div className="bulk-progress" role="status" aria-live="polite">
      <span>
        Bulk {action}: {formatCount(processed)} of {formatCount(total)}
        {data?.done ? ` done: ${data.queued} queued, ${data.skipped} skipped, ${data.failed} failed` : ''}
        {error ? ` — progress unavailable: ${error.message}` : ''}
      </span>
      <progress max={Math.max(1, total)} value={processed} aria-label={`Bulk ${action} progress`} />
      {data && data.skippedReasons.length > 0 && (
        <span className="muted">{data.skippedReasons.map((r) => `${r.jobs} × ${r.reason}`).join('; ')}</span>
      )}
    </div>
  );
}

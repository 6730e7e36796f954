import type { JobSummary } from '@agentos/contracts';
import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useEffect, useMemo, useRef } from 'react';
import { usePreferences } from '../../app/context';
import { withParams } from '../../app/router';
import { StatusBadge } from '../../components/Badge';
import { Empty } from '../../components/Empty';
import { Link } from '../../components/Link';
import { formatDuration, formatTime } from '../../data/format';
import type { TimeZoneChoice } from '../../data/preferences';

const ROW_HEIGHT = 36;
/** Ask for the next page when the last rendered row is this close to the end of those loaded. */
const PREFETCH_ROWS = 100;

interface JobTableProps {
  rows: readonly JobSummary[];
  hasMore: boolean;
  loadingMore: boolean;
  onNeedMore: () => void;
  openJob: string | null;
  search: string;
  pending: boolean;
}

/**
 * The search results, virtualised: only the rows in view (and a few around) are in the DOM,
 * however many are loaded; keyset pages are fetched as the end comes near.
 *
 * Rows are keyed by index, so an element keeps its row while the row is in view (focus stays on
 * the job it is on); a row costs one render when it comes into view: plain props, no hooks.
 */
export function JobTable({ rows, hasMore, loadingMore, onNeedMore, openJob, search, pending }: JobTableProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const { timeZone } = usePreferences();
  const virtualizer = useVirtualizer({
    count: rows.length + (hasMore ? 1 : 0),
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const last = items[items.length - 1]?.index ?? 0;
  useEffect(() => {
    if (hasMore && !loadingMore && last >= rows.length - PREFETCH_ROWS) onNeedMore();
  }, [last, rows.length, hasMore, loadingMore, onNeedMore]);
  const hrefOf = useMemo(() => jobHref(search), [search]);

  if (!pending && rows.length === 0) return <Empty>No job matches these filters.</Empty>;

  return (
    <div className="vtable" role="table" aria-label="Jobs found" aria-rowcount={hasMore ? -1 : rows.length + 1}>
      <div role="rowgroup" className="vtable-head">
        <div role="row" className="vrow" aria-rowindex={1}>
          {['Job', 'Status', 'Queue', 'Type', 'Source', 'Attempts', 'Duration', 'Created', 'Error'].map((h) => (
            <div key={h} role="columnheader" className="vcell">
              {h}
            </div>
          ))}
        </div>
      </div>
      <div ref={scroller} className="vtable-body" data-testid="job-table-scroller" tabIndex={0} role="rowgroup" aria-label="Results">
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
          {items.map((item) => {
            const job = rows[item.index];
            return (
              <div key={item.key} className="vrow-slot" style={{ transform: `translateY(${item.start}px)`, height: ROW_HEIGHT }}>
                {job ? <JobRow job={job} index={item.index} open={job.id === openJob} href={hrefOf(job.id)} timeZone={timeZone} /> : (
                  <div role="row" className="vrow vrow-more" aria-rowindex={item.index + 2}>
                    <div role="cell" className="vcell">{loadingMore ? 'Loading more…' : ''}</div>
                  </div>
                )}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}

/** The link that opens a job, keeping the rest of the query string: the string parsed once per search, not once per row. */
function jobHref(search: string): (id: string) => string {
  const base = withParams(search, { job: null });
  return (id) => `/queue${base ? `${base}&` : '?'}job=${encodeURIComponent(id)}`;
}

/** One row: plain props and no hooks (a row coming into view costs its render and nothing more); drawn again only when one of them changed. */
const JobRow = memo(function JobRow({ job, index, open, href, timeZone }: { job: JobSummary; index: number; open: boolean; href: string; timeZone: TimeZoneChoice }) {
  return (
    <div role="row" className={`vrow ${open ? 'vrow-open' : ''}`} aria-rowindex={index + 2} data-job-id={job.id}>
      <div role="cell" className="vcell">
        <Link to={href} className="mono truncate" title={job.id} aria-current={open ? 'true' : undefined}>
          {job.id}
        </Link>
      </div>
      <div role="cell" className="vcell">
        <StatusBadge status={job.status} />
      </div>
      <div role="cell" className="vcell truncate" title={job.queue}>
        {job.queue}
      </div>
      <div role="cell" className="vcell truncate" title={job.type}>
        {job.type}
      </div>
      <div role="cell" className="vcell">
        {job.source}
      </div>
      <div role="cell" className="vcell num">
        {job.attempts}
      </div>
      <div role="cell" className="vcell num">
        {formatDuration(job.duration_ms)}
      </div>
      <div role="cell" className="vcell">
        <time dateTime={job.created_at} title={job.created_at}>
          {formatTime(job.created_at, timeZone)}
        </time>
      </div>
      <div role="cell" className="vcell truncate error-text" title={job.error ?? undefined}>
        {job.error ?? ''}
      </div>
    </div>
  );
});

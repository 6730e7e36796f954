import type { AnalyticsSection, SeriesPoint } from '@agentos/contracts';
import type uPlot from 'uplot';
import type { LiveView } from './live-store';
import { createSelector } from './selectors';

/** The analytics series as uPlot's columns: x in seconds, then completed, failed, cancelled, and the rest (not finished yet). */
export function seriesColumns(points: readonly SeriesPoint[]): uPlot.AlignedData {
  const x = new Array<number>(points.length);
  const completed = new Array<number>(points.length);
  const failed = new Array<number>(points.length);
  const cancelled = new Array<number>(points.length);
  const open = new Array<number>(points.length);
  points.forEach((point, i) => {
    x[i] = Date.parse(point.t) / 1000;
    completed[i] = point.completed;
    failed[i] = point.failed;
    cancelled[i] = point.cancelled;
    open[i] = Math.max(0, point.total - point.completed - point.failed - point.cancelled);
  });
  return [x, completed, failed, cancelled, open];
}

export const SERIES = [
  { label: 'Completed', colorVar: '--series-completed' },
  { label: 'Failed', colorVar: '--series-failed' },
  { label: 'Cancelled', colorVar: '--series-cancelled' },
  { label: 'Not finished', colorVar: '--series-open' },
] as const;

export const selectPerMinute = createSelector(
  (view: LiveView) => [view.snapshot?.analytics.jobs_per_minute],
  ([points]) => (points ? seriesColumns(points) : null),
);

export const selectPerHour = createSelector(
  (view: LiveView) => [view.snapshot?.analytics.jobs_per_hour],
  ([points]) => (points ? seriesColumns(points) : null),
);

/** Jobs per minute over the last hour (the mean over the 60 points). */
export function meanPerMinute(analytics: Pick<AnalyticsSection, 'jobs_per_minute'>): number {
  const points = analytics.jobs_per_minute;
  return points.length === 0 ? 0 : points.reduce((sum, p) => sum + p.total, 0) / points.length;
}

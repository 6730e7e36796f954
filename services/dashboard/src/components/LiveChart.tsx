import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { usePreferences } from '../app/context';
import type { LiveView } from '../data/live-store';
import { useLiveStore } from '../data/use-live';

export interface ChartSeries {
  label: string;
  /** A CSS custom property holding the colour (`--series-failed`), so both themes have theirs. */
  colorVar: string;
}

interface LiveChartProps {
  /** From the live view to uPlot's columns (`[x, ...ys]`, x in seconds); must return the same array while unchanged. */
  select: (view: LiveView) => uPlot.AlignedData | null;
  series: readonly ChartSeries[];
  /** Says what the chart shows, for those who cannot see it. */
  label: string;
  height?: number;
  /** How the x axis labels its ticks. */
  timeOnly?: boolean;
}

/**
 * A uPlot chart fed straight from the live store: React renders the container once, and each
 * new slice goes to `setData` from the store's subscription — outside React's render, at most
 * once per publish of the store. Rebuilt only when the theme or time zone changes (its colours and
 * axis labels).
 */
export function LiveChart({ select, series, label, height = 220 }: LiveChartProps) {
  const container = useRef<HTMLDivElement>(null);
  const store = useLiveStore();
  const { theme, timeZone } = usePreferences();

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const style = getComputedStyle(element);
    const color = (name: string) => style.getPropertyValue(name).trim() || '#888';
    const axis = { stroke: color('--text-muted'), grid: { stroke: color('--grid'), width: 1 }, ticks: { stroke: color('--grid'), width: 1 } };
    let data = select(store.getView());
    const plot = new uPlot(
      {
        width: Math.max(200, element.clientWidth),
        height,
        tzDate: timeZone === 'utc' ? (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC') : undefined,
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [axis, { ...axis, size: 48 }],
        series: [
          {},
          ...series.map((s) => ({ label: s.label, stroke: color(s.colorVar), fill: `${color(s.colorVar)}22`, width: 2, points: { show: false } })),
        ],
      },
      data ?? [[], ...series.map(() => [])],
      element,
    );
    const unsubscribe = store.subscribe(() => {
      const next = select(store.getView());
      if (next && next !== data) {
        data = next;
        plot.setData(next);
      }
    });
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, element.clientWidth), height }));
    resize.observe(element);
    return () => {
      unsubscribe();
      resize.disconnect();
      plot.destroy();
    };
    // `select` and `series` are module constants of the view that uses the chart.
  }, [store, theme, timeZone, height]); // eslint-disable-line react-hooks/exhaustive-deps

  return <div ref={container} className="chart" role="img" aria-label={label} />;
}

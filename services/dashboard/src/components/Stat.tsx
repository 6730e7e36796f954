import type { ReactNode } from 'react';

/** One figure with its label: `<dl>` semantics, so a screen reader reads "label: value". */
export function Stat({ label, value, hint, tone }: { label: string; value: ReactNode; hint?: ReactNode; tone?: Tone }) {
  return (
    <div className={`stat ${tone ? `tone-${tone}` : ''}`}>
      <dt>{label}</dt>
      <dd>
        <span className="stat-value">{value}</span>
        {hint !== undefined && <span className="stat-hint">{hint}</span>}
      </dd>
    </div>
  );
}

export function StatGrid({ children, label }: { children: ReactNode; label?: string }) {
  return (
    <dl className="stat-grid" aria-label={label}>
      {children}
    </dl>
  );
}

export type Tone = 'good' | 'warn' | 'bad' | 'info' | 'muted';

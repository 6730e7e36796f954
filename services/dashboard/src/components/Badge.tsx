import type { ReactNode } from 'react';
import type { Tone } from './Stat';

export function Badge({ tone = 'muted', children, title }: { tone?: Tone; children: ReactNode; title?: string }) {
  return (
    <span className={`badge tone-${tone}`} title={title}>
      {children}
    </span>
  );
}

const TONES: Record<string, Tone> = {
  healthy: 'good',
  up: 'good',
  online: 'good',
  live: 'good',
  completed: 'good',
  succeeded: 'good',
  success: 'good',
  active: 'info',
  processing: 'info',
  requested: 'info',
  pending: 'muted',
  idle: 'muted',
  disabled: 'muted',
  cancelled: 'muted',
  info: 'info',
  debug: 'muted',
  degraded: 'warn',
  warning: 'warn',
  warn: 'warn',
  reconnecting: 'warn',
  stale: 'bad',
  down: 'bad',
  offline: 'bad',
  failed: 'bad',
  error: 'bad',
  critical: 'bad',
  empty: 'muted',
};

/** A status word with its colour (and the word itself, never colour alone). */
export function StatusBadge({ status }: { status: string }) {
  return <Badge tone={TONES[status] ?? 'muted'}>{status}</Badge>;
}

import { type ReactNode, useId } from 'react';
import { useLive } from '../data/use-live';
import { sectionHealth } from '../data/selectors';

interface SectionProps {
  title: string;
  /** The snapshot section this shows: its staleness and build error are said here, where it is shown. */
  source?: string;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
}

/** A titled block of a view. */
export function Section({ title, source, actions, children, className }: SectionProps) {
  const id = useId();
  return (
    <section className={`section ${className ?? ''}`} aria-labelledby={id}>
      <header className="section-head">
        <h2 id={id}>{title}</h2>
        {actions && <div className="section-actions">{actions}</div>}
      </header>
      {source && <SectionNotice source={source} />}
      {children}
    </section>
  );
}

/** "Stale" or "could not be built" for one snapshot section, or nothing when it is current. */
export function SectionNotice({ source }: { source: string }) {
  const { stale, error } = useLive(sectionHealth(source));
  if (error) {
    return (
      <p className="notice notice-error" role="status">
        <strong>Not current:</strong> the server could not build “{source}” ({error}); showing its previous value.
      </p>
    );
  }
  if (stale) {
    return (
      <p className="notice notice-stale" role="status">
        <strong>Stale:</strong> this may be out of date.
      </p>
    );
  }
  return null;
}

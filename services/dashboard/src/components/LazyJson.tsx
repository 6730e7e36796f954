import { useMemo, useState } from 'react';
import { formatCount } from '../data/format';

const LINES_PER_STEP = 400;

/**
 * A payload, collapsed by default: nothing is serialised until it is opened, and then it is drawn
 * in steps of a few hundred lines, so a payload of any size costs nothing until asked for and
 * never blocks the page for long.
 */
export function LazyJson({ value, label = 'Payload' }: { value: unknown; label?: string }) {
  const [open, setOpen] = useState(false);
  return (
    <details className="json" onToggle={(event) => setOpen((event.target as HTMLDetailsElement).open)}>
      <summary>{label}</summary>
      {open && <JsonLines value={value} />}
    </details>
  );
}

function JsonLines({ value }: { value: unknown }) {
  const lines = useMemo(() => (JSON.stringify(value, null, 2) ?? 'undefined').split('\n'), [value]);
  const [shown, setShown] = useState(LINES_PER_STEP);
  const rest = lines.length - shown;
  return (
    <>
      <pre className="json-body" tabIndex={0}>
        {lines.slice(0, shown).join('\n')}
      </pre>
      {rest > 0 && (
        <button type="button" className="button button-small" onClick={() => setShown((n) => n + LINES_PER_STEP * 4)}>
          Show more ({formatCount(rest)} lines left)
        </button>
      )}
    </>
  );
}

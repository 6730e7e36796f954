import { memo, useId, useMemo, useState } from 'react';
import { StatusBadge } from '../../components/Badge';
import { Empty } from '../../components/Empty';
import { Link } from '../../components/Link';
import { Section } from '../../components/Section';
import { Time } from '../../components/Time';
import { ALL_LOGS, filterLogs, type LogEntry, LOG_LEVELS, type LogFilter, type LogLevel, logSources } from '../../data/logs';
import { useLive } from '../../data/use-live';

/** The live tail of the SSOT's log lines, newest first, by level, source and text. */
export function LogsView() {
  const entries = useLive((v) => v.snapshot?.logs.recent_entries);
  const [filter, setFilter] = useState<LogFilter>(ALL_LOGS);
  const sources = useMemo(() => logSources(entries ?? []), [entries]);
  const shown = useMemo(() => filterLogs(entries ?? [], filter), [entries, filter]);
  const textId = useId();
  const sourceId = useId();

  const toggleLevel = (level: LogLevel) =>
    setFilter((f) => ({ ...f, levels: f.levels.includes(level) ? f.levels.filter((l) => l !== level) : [...f.levels, level] }));

  return (
    <div className="view view-logs">
      <h1 className="view-title">Logs</h1>
      <Section title="Live tail" source="logs">
        <form className="filters" role="search" aria-label="Filter log lines" onSubmit={(e) => e.preventDefault()}>
          <fieldset className="checks">
            <legend>Level</legend>
            {LOG_LEVELS.map((level) => (
              <label key={level}>
                <input type="checkbox" checked={filter.levels.includes(level)} onChange={() => toggleLevel(level)} /> {level}
              </label>
            ))}
          </fieldset>
          <div className="field">
            <label htmlFor={sourceId}>Source</label>
            <select id={sourceId} value={filter.source ?? ''} onChange={(e) => setFilter((f) => ({ ...f, source: e.target.value || null }))}>
              <option value="">All sources</option>
              {sources.map((source) => (
                <option key={source} value={source}>
                  {source}
                </option>
              ))}
            </select>
          </div>
          <div className="field field-grow">
            <label htmlFor={textId}>Text</label>
            <input id={textId} type="search" value={filter.text} onChange={(e) => setFilter((f) => ({ ...f, text: e.target.value }))} placeholder="message or job id" />
          </div>
        </form>
        <p className="footnote" aria-live="polite">
          {shown.length} of {entries?.length ?? 0} lines
        </p>
        {shown.length === 0 ? <Empty>{entries?.length ? 'No line matches the filter.' : 'No log lines yet.'}</Empty> : (
          <ol className="log-lines" aria-label="Log lines, newest first">
            {shown.map((entry) => (
              <LogLine key={entry.id} entry={entry} />
            ))}
          </ol>
        )}
      </Section>
    </div>
  );
}

/** One line, drawn again only when its entry changed (the store keeps unchanged entries' identity). */
const LogLine = memo(function LogLine({ entry }: { entry: LogEntry }) {
  return (
    <li className={`log-line level-${entry.level}`}>
      <Time iso={entry.created_at} />
      <StatusBadge status={entry.level} />
      <span className="log-source">{entry.source}</span>
      <span className="log-message">{entry.message}</span>
      {entry.job_id && (
        <Link to={`/queue?job=${encodeURIComponent(entry.job_id)}`} className="mono truncate log-job" title={entry.job_id}>
          {entry.job_id}
        </Link>
      )}
    </li>
  );
});

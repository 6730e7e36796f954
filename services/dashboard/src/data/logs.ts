import type { LogsSection } from '@agentos/contracts';

export type LogEntry = LogsSection['recent_entries'][number];
export type LogLevel = LogEntry['level'];
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface LogFilter {
  /** Levels shown; empty shows all. */
  levels: readonly LogLevel[];
  /** One source, or null for every source. */
  source: string | null;
  /** Text searched in the message and the job id (case-insensitive). */
  text: string;
}

export const ALL_LOGS: LogFilter = { levels: [], source: null, text: '' };

/** The entries that pass the filter, newest first (the tail reads from the top). */
export function filterLogs(entries: readonly LogEntry[], filter: LogFilter): LogEntry[] {
  const text = filter.text.trim().toLowerCase();
  return entries
    .filter(
      (entry) =>
        (filter.levels.length === 0 || filter.levels.includes(entry.level)) &&
        (filter.source === null || entry.source === filter.source) &&
        (text === '' || entry.message.toLowerCase().includes(text) || (entry.job_id ?? '').toLowerCase().includes(text)),
    )
    .sort((a, b) => b.created_at.localeCompare(a.created_at));
}

/** The sources the entries come from, sorted: the choices of the source filter. */
export const logSources = (entries: readonly LogEntry[]): string[] => [...new Set(entries.map((e) => e.source))].sort();

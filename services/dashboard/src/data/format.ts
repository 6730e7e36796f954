import type { TimeZoneChoice } from './preferences';

/** Display formatting: times in the chosen zone, durations, ages, counts. Pure functions. */

const pad = (n: number): string => (n < 10 ? `0${n}` : String(n));

/**
 * `2026-12-03 14:05:09` (or `14:05:09` with `timeOnly`) in the zone chosen, with ` UTC` in UTC;
 * `—` for none. From the Date's own fields, not Intl: the job table formats one per row as it
 * scrolls, and `formatToParts` costs several times as much for the same digits.
 */
export function formatTime(iso: string | null | undefined, zone: TimeZoneChoice, timeOnly = false): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const [year, month, day, hour, minute, second] =
    zone === 'utc'
      ? [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()]
      : [date.getFullYear(), date.getMonth() + 1, date.getDate(), date.getHours(), date.getMinutes(), date.getSeconds()];
  const time = `${pad(hour)}:${pad(minute)}:${pad(second)}`;
  const text = timeOnly ? time : `${year}-${pad(month)}-${pad(day)} ${time}`;
  return zone === 'utc' ? `${text} UTC` : text;
}

/** `850 ms`, `4.2 s`, `3 min 5 s`, `2 h 10 min`; `—` for none. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m - h * 60} min`;
  const d = Math.floor(h / 24);
  return `${d} d ${h - d * 24} h`;
}

/** Seconds as a duration (`uptime`, `oldest_pending_age_s`). */
export const formatSeconds = (s: number | null | undefined): string => (s === null || s === undefined ? '—' : s < 1 ? `${Math.round(s)} s` : formatDuration(s * 1000));

/** How long ago `iso` was, from `now`: `12 s ago`, `3 min ago`; `—` for none. */
export function formatAge(iso: string | null | undefined, now: number): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '—';
  const ms = Math.max(0, now - t);
  if (ms < 1000) return 'just now';
  return `${formatDuration(ms).replace(/ \d+ (s|min|h)$/, '')} ago`;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
/** `12,345`; `—` for none. */
export const formatCount = (n: number | null | undefined): string => (n === null || n === undefined ? '—' : integer.format(n));

/** `97.4 %`; `—` for none. */
export const formatPercent = (n: number | null | undefined, digits = 1): string => (n === null || n === undefined ? '—' : `${n.toFixed(digits)} %`);

/**
 * A `datetime-local` input's value (`2026-12-03T14:05`) as an ISO time, read in the chosen zone;
 * `undefined` for an empty or unreadable value.
 */
export function inputToIso(value: string, zone: TimeZoneChoice): string | undefined {
  if (!value) return undefined;
  const date = zone === 'utc' ? new Date(`${value}${value.length === 16 ? ':00' : ''}Z`) : new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** The other way: an ISO time as a `datetime-local` value in the chosen zone. */
export function isoToInput(iso: string | undefined, zone: TimeZoneChoice): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const shifted = zone === 'utc' ? date : new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return shifted.toISOString().slice(0, 16);
}

import { randomUUID } from 'node:crypto';
import {
  type AgentEvent,
  DEFAULT_EVENT_SOURCE,
  EVENT_NAMES,
  eventEnvelope,
  type IngestProblem,
  MAX_EVENTS_PER_BATCH,
  MAX_OCCURRED_AT_AHEAD_MS,
} from '@agentos/contracts';
import { ValidationError } from '@agentos/runtime';
import type { z } from 'zod';
import { PayloadTooLargeError } from './errors';

const KNOWN_NAMES = EVENT_NAMES.join(', ');
const SHAPE = 'expected one event object or {"events": [...]}';

/**
 * The events of one `POST /api/events` body (CONTRACT §5), checked whole: either every event is
 * valid and all come back completed (`id` and `occurred_at` filled, times in UTC, unknown fields
 * dropped), or a ValidationError lists every problem of every event and nothing is kept.
 * PayloadTooLargeError past `MAX_EVENTS_PER_BATCH`.
 */
export function validateEvents(body: unknown, now: Date = new Date()): AgentEvent[] {
  const posted = postedEvents(body);
  const problems: IngestProblem[] = [];
  const events: AgentEvent[] = [];
  posted.forEach((raw, index) => {
    const result = eventEnvelope.safeParse(raw, { error: requiredMessage });
    if (!result.success) {
      problems.push(...result.error.issues.map((issue) => toProblem(index, raw, issue)));
      return;
    }
    const data = result.data as { id?: string; name: AgentEvent['name']; payload: unknown; occurred_at?: string; source?: string };
    if (data.occurred_at && Date.parse(data.occurred_at) - now.getTime() > MAX_OCCURRED_AT_AHEAD_MS) {
      problems.push({ index, field: 'occurred_at', message: `more than ${MAX_OCCURRED_AT_AHEAD_MS / 60_000} minutes ahead of the server's clock (${now.toISOString()})` });
      return;
    }
    events.push({
      // Ids are opaque (CONTRACT §5): kept exactly as given, so `A` and `a` are two ids.
      id: data.id ?? randomUUID(),
      name: data.name,
      payload: data.payload,
      occurred_at: data.occurred_at ? new Date(data.occurred_at).toISOString() : now.toISOString(),
      source: data.source ?? DEFAULT_EVENT_SOURCE,
    } as AgentEvent);
  });
  if (problems.length > 0) {
    const invalid = new Set(problems.map((p) => p.index)).size;
    const total = posted.length;
    throw new ValidationError(
      `${invalid} of ${total} event${total === 1 ? '' : 's'} ${invalid === 1 ? 'is' : 'are'} invalid; none was accepted`,
      problems,
    );
  }
  return events;
}

function postedEvents(body: unknown): unknown[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError(`request body: ${SHAPE}`);
  if (!('events' in body)) return [body];
  const { events } = body as { events: unknown };
  if (!Array.isArray(events)) throw new ValidationError(`events must be an array (${SHAPE})`);
  if (events.length === 0) throw new ValidationError('events must hold at least one event');
  if (events.length > MAX_EVENTS_PER_BATCH) throw new PayloadTooLargeError(`at most ${MAX_EVENTS_PER_BATCH} events per batch`);
  return events;
}

/** zod's "expected string, received undefined" says less than it could. */
function requiredMessage(issue: { code?: string; input?: unknown }): string | undefined {
  return issue.code === 'invalid_type' && issue.input === undefined ? 'required' : undefined;
}

function toProblem(index: number, raw: unknown, issue: z.core.$ZodIssue): IngestProblem {
  const field = issue.path.map(String).join('.');
  if (field === '') return { index, field: '(event)', message: `expected an event object, received ${describe(raw)}` };
  if (field === 'name' && issue.code === 'invalid_union') {
    const name = (raw as { name?: unknown }).name;
    const what =
      name === undefined ? 'required' : typeof name === 'string' ? `unknown event name '${clip(name)}'` : `must be a string, received ${describe(name)}`;
    return { index, field, message: `${what}; known names: ${KNOWN_NAMES}` };
  }
  return { index, field, message: issue.message };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Echoes at most a little of what the client sent. */
function clip(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

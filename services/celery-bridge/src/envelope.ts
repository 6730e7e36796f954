import { CELERY_EVENT_SCHEMAS, type CeleryEvent, celeryEventHead, isMappedType } from './celery-event';

/**
 * The one place where what comes off the broker is read. A Celery event travels as a kombu
 * message, PUBLISHed on `/{db}.celeryev/{routing_key}`:
 *
 *   {"body": "<base64 of the JSON event>", "content-encoding": "utf-8",
 *    "content-type": "application/json", "headers": {"hostname": …},
 *    "properties": {"body_encoding": "base64", "delivery_info": {"exchange": "celeryev",
 *    "routing_key": "task.succeeded"}, …}}
 *
 * On `task.multi` (a prefork worker batching its task events) the body is a JSON array of events.
 * Nothing here throws: a message that cannot be read is returned as a problem with a stable
 * reason (the `dropped` metric's label), and within a batch each bad event is set aside alone.
 */

/** Why a message or one of its events was set aside. */
export type DropReason =
  | 'not_json'
  | 'not_an_envelope'
  | 'unsupported_content_type'
  | 'bad_body_encoding'
  | 'bad_body'
  | 'bad_event';

export interface Problem {
  reason: DropReason;
  detail: string;
}

export interface ParsedMessage {
  /** The events the bridge maps, in the order sent. */
  events: CeleryEvent[];
  /** Events of a type the bridge does not map (`task-rejected`, custom events …), by type. */
  ignored: string[];
  problems: Problem[];
}

/** Largest message read; Celery's own events are a few kB (args are truncated reprs). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

export function parseMessage(message: string): ParsedMessage {
  const out: ParsedMessage = { events: [], ignored: [], problems: [] };
  const fail = (reason: DropReason, detail: string) => {
    out.problems.push({ reason, detail });
    return out;
  };
  if (message.length > MAX_MESSAGE_BYTES) return fail('not_an_envelope', `message of ${message.length} characters`);
  const envelope = tryJson(message);
  if (!isRecord(envelope) || typeof envelope.body !== 'string') return fail(envelope === undefined ? 'not_json' : 'not_an_envelope', 'no string body');
  const contentType = envelope['content-type'];
  if (contentType !== undefined && contentType !== 'application/json') {
    // event_serializer = pickle/msgpack/yaml: not something to decode here.
    return fail('unsupported_content_type', `content-type ${String(contentType)}: set the app's event_serializer to json`);
  }
  const properties = isRecord(envelope.properties) ? envelope.properties : {};
  let bodyText: string;
  if (properties.body_encoding === 'base64') {
    bodyText = Buffer.from(envelope.body, 'base64').toString('utf8');
  } else if (properties.body_encoding === undefined || properties.body_encoding === null) {
    bodyText = envelope.body;
  } else {
    return fail('bad_body_encoding', `body_encoding ${String(properties.body_encoding)}`);
  }
  const body = tryJson(bodyText);
  if (body === undefined) return fail('bad_body', 'the body is not JSON');
  const items = Array.isArray(body) ? body : [body];
  for (const item of items) {
    // One schema per event, chosen by its type: the bridge's hottest path, a thousand times a
    // second. The bare head check runs only for a type the bridge does not map.
    const type = isRecord(item) ? item.type : undefined;
    if (typeof type === 'string' && isMappedType(type)) {
      const event = CELERY_EVENT_SCHEMAS[type].safeParse(item);
      if (event.success) out.events.push(event.data as CeleryEvent);
      else out.problems.push({ reason: 'bad_event', detail: `${type}: ${summarise(event.error.issues)}` });
      continue;
    }
    const head = celeryEventHead.safeParse(item);
    if (head.success) out.ignored.push(head.data.type);
    else out.problems.push({ reason: 'bad_event', detail: summarise(head.error.issues) });
  }
  return out;
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function summarise(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 3)
    .map((issue) => `${issue.path.map(String).join('.') || '(event)'}: ${issue.message}`)
    .join('; ');
}

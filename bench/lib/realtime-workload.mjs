// The events of bench:realtime: bench:events' job-platform mix (job lifecycles over the reference
// queues and agents, 2 % worker heartbeats), each job owned by one of the benchmark's N user
// sockets instead of the 50 users of that mix, so every `job:processing` and `job:completed`
// goes to one real user's room.
//
// Each event also yields what the dispatcher would publish for it (CONTRACT §5's dispatch table,
// the contract's `roomsFor`) — the message the gateway-only and bare phases publish themselves —
// and whom it is for: the admin sockets (every staff room holds all of them) and/or one user.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { eventId } from './realtime-ids.mjs';
import { createWorkload, prng } from './workload.mjs';

const require = createRequire(import.meta.url);
const root = join(import.meta.dirname, '..', '..');
const { EVENT_DISPATCH_CONFIG, roomsFor } = require(join(root, 'packages/contracts/dist/index.js'));

export const EVENT_NAMES = Object.keys(EVENT_DISPATCH_CONFIG);


/**
 * @param {object} options
 * @param {string[]} options.users the user sockets' ids (their `sub`)
 * @param {string} options.tag the phase's id tag (realtime-ids.mjs)
 * @param {number} [options.seed] @default 1
 */
export function createRealtimeWorkload({ users, tag, seed = 1 }) {
  const mix = createWorkload({ seed });
  const random = prng(seed + 1);
  const owner = new Map(); // job_id → user index, for the job's whole lifecycle
  let seq = 0;

  /** The next event, stamped `sendUs`; with its broadcast (null for heartbeats) and audience. */
  function next(sendUs) {
    const { name, payload: raw } = mix.next();
    let payload = raw;
    let user = -1;
    if (raw.job_id) {
      user = owner.get(raw.job_id);
      if (user === undefined) {
        user = Math.floor(random() * users.length);
        owner.set(raw.job_id, user);
      }
      if (name === 'job:completed' || name === 'job:failed') owner.delete(raw.job_id);
      payload = { ...raw, user_id: users[user] };
    }
    const id = eventId(tag, seq, sendUs);
    const rule = EVENT_DISPATCH_CONFIG[name];
    const rooms = rule.websocket ? roomsFor(rule, payload) : [];
    const toUser = rooms.includes(`user:${payload.user_id}`);
    const event = {
      seq,
      id,
      name,
      payload,
      rooms,
      toAdmins: rooms.some((r) => !r.startsWith('user:')),
      user: toUser ? user : -1,
    };
    seq += 1;
    return event;
  }

  return { next };
}

/** What the dispatcher publishes on `ssot:broadcast` for `event` (services/dispatcher dispatch.ts). */
export function broadcastMessage(event, timestamp = new Date().toISOString()) {
  const rule = EVENT_DISPATCH_CONFIG[event.name];
  return JSON.stringify({ rooms: event.rooms, message: { type: rule.websocket.event, data: { ...event.payload, id: event.id }, timestamp } });
}

import type { Principal } from '@agentos/runtime';

/**
 * Room rules (CONTRACT §6). Every socket joins `user:{sub}`; an admin also joins the staff rooms.
 * `subscribe` adds a room only where the token allows it: a user only their own room (already
 * joined), an admin any staff room or any user's room.
 */

export const STAFF_ROOMS = ['admin', 'alerts', 'monitoring'] as const;

/** Longest user id accepted in a room name: bounds what one subscribe can make the gateway hold. */
const MAX_USER_ID = 200;

export function userRoom(sub: string): string {
  return `user:${sub}`;
}

export function roomsOnConnect(principal: Principal): string[] {
  return principal.role === 'admin' ? [userRoom(principal.sub), ...STAFF_ROOMS] : [userRoom(principal.sub)];
}

/** The label a room is counted under in metrics: its kind, never a user id. */
export function roomKind(room: string): string {
  return room.startsWith('user:') ? 'user' : room;
}

export type SubscribeAnswer = { ok: true } | { ok: false; error: 'forbidden' | 'unknown room' };

/** Whether `principal` may join `room`; a name that is no room of the contract is 'unknown room'. */
export function maySubscribe(principal: Principal, room: unknown): SubscribeAnswer {
  if (typeof room !== 'string' || !isKnownRoom(room)) return { ok: false, error: 'unknown room' };
  if (principal.role === 'admin' || room === userRoom(principal.sub)) return { ok: true };
  return { ok: false, error: 'forbidden' };
}

function isKnownRoom(room: string): boolean {
  if ((STAFF_ROOMS as readonly string[]).includes(room)) return true;
  return room.startsWith('user:') && room.length > 'user:'.length && room.length <= 'user:'.length + MAX_USER_ID;
}

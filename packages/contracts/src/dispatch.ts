import type { EventName } from './events';

/**
 * The seed's EVENT_DISPATCH_CONFIG as one typed constant (CONTRACT §5). The seed's cache names
 * are mapped to snapshot sections: `jobs_today` lives in `dashboard`, `workers` in
 * `agents_workers` and `dashboard`, `system_health` in `system_control` and `dashboard`. And a
 * job event refreshes every section that shows jobs by status, which the seed's caches did not
 * cover: `analytics` (`by_status`, `success_rate`) and `queue` (per-queue pending, processing
 * and failed) change with every job's state, whatever the state. A section left out stayed stale
 * until the next warm: the queue said nothing was processing while analytics still counted a
 * job that had failed (the real-Celery test caught it once the last events of a run came alone).
 */

export type DispatchAction = 'notify_admin' | 'check_minimum_workers' | 'alert_ops' | 'consider_scaling';
export type DispatchPriority = 'normal' | 'high' | 'critical';
export type SocketEventName =
  | 'job:new'
  | 'job:progress'
  | 'job:done'
  | 'job:error'
  | 'worker:down'
  | 'queue:warning'
  | 'system:status'
  | 'job:cancelled'
  | 'command:result';

/** A room name; `user:{user_id}` is filled from the payload and skipped when the payload has none. */
export type RoomTemplate = 'admin' | 'alerts' | 'monitoring' | 'user:{user_id}';

export interface DispatchRule {
  /** The seed's cache names, as written there. */
  readonly cache: readonly string[];
  /** Snapshot sections refreshed after the event's effect is persisted. */
  readonly sections: readonly import('./sections').SectionName[];
  readonly websocket?: { readonly event: SocketEventName; readonly rooms: readonly RoomTemplate[] };
  readonly actions?: readonly DispatchAction[];
  /** @default 'normal' */
  readonly priority?: DispatchPriority;
  /** Seconds the live state written by this event lives (heartbeats). */
  readonly ttl?: number;
}

export const EVENT_DISPATCH_CONFIG = {
  'job:created': {
    cache: ['dashboard', 'queue', 'jobs_today'],
    sections: ['dashboard', 'queue', 'analytics'],
    websocket: { event: 'job:new', rooms: ['admin'] },
    priority: 'high',
  },
  'job:processing': {
    cache: ['dashboard', 'queue'],
    sections: ['dashboard', 'queue', 'analytics'],
    websocket: { event: 'job:progress', rooms: ['admin', 'user:{user_id}'] },
  },
  'job:completed': {
    cache: ['dashboard', 'analytics', 'jobs_today'],
    sections: ['dashboard', 'analytics', 'queue'],
    websocket: { event: 'job:done', rooms: ['admin', 'user:{user_id}'] },
  },
  'job:failed': {
    cache: ['dashboard', 'queue'],
    sections: ['dashboard', 'queue', 'analytics'],
    websocket: { event: 'job:error', rooms: ['admin', 'alerts'] },
    actions: ['notify_admin'],
    priority: 'critical',
  },
  'worker:heartbeat': {
    cache: ['workers'],
    sections: ['agents_workers', 'dashboard'],
    ttl: 120,
  },
  'worker:offline': {
    cache: ['workers', 'dashboard'],
    sections: ['agents_workers', 'dashboard'],
    websocket: { event: 'worker:down', rooms: ['admin', 'alerts'] },
    actions: ['check_minimum_workers', 'alert_ops'],
    priority: 'critical',
  },
  'queue:threshold_warning': {
    cache: ['queue', 'dashboard'],
    sections: ['queue', 'dashboard'],
    websocket: { event: 'queue:warning', rooms: ['admin'] },
    actions: ['consider_scaling'],
  },
  'system:health_check': {
    cache: ['system_health'],
    sections: ['system_control', 'dashboard'],
    websocket: { event: 'system:status', rooms: ['monitoring'] },
  },
  // The extensions (CONTRACT §5), not in the seed.
  'job:cancelled': {
    cache: ['dashboard', 'queue'],
    sections: ['dashboard', 'queue', 'analytics'],
    websocket: { event: 'job:cancelled', rooms: ['admin', 'user:{user_id}'] },
  },
  'queue:stats': {
    cache: ['queue'],
    sections: ['queue'],
  },
  'command:result': {
    cache: [],
    sections: [],
    websocket: { event: 'command:result', rooms: ['admin'] },
  },
} as const satisfies Record<EventName, DispatchRule>;

/** Rooms for one event, `user:{user_id}` filled from the payload (left out when it has none). */
export function roomsFor(rule: DispatchRule, payload: { user_id?: string }): string[] {
  const rooms: string[] = [];
  for (const room of rule.websocket?.rooms ?? []) {
    if (room === 'user:{user_id}') {
      if (payload.user_id) rooms.push(`user:${payload.user_id}`);
    } else {
      rooms.push(room);
    }
  }
  return rooms;
}

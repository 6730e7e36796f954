import { z } from 'zod';
import { SECTION_NAMES, type SectionName } from './sections';

/** Every server → browser socket message (CONTRACT §6). */
export interface SocketMessage<T = unknown> {
  type: string;
  data: T;
  timestamp: string;
}

/**
 * A request to the collectors, one entry on the refresh stream. `sections` empty means all.
 * `id` lets the requester recognise the version that answered it.
 */
export const refreshRequest = z.object({
  id: z.string().min(1),
  sections: z.array(z.enum(SECTION_NAMES as [SectionName, ...SectionName[]])),
  reason: z.string(),
  requested_at: z.iso.datetime({ offset: true }),
  /** Event stream entry id up to which every event's effect was persisted when this was asked. */
  events_upto: z.string().regex(/^\d+-\d+$/).optional(),
});
export type RefreshRequest = z.infer<typeof refreshRequest>;

/** Published on the version channel after every snapshot write. */
export const versionAnnouncement = z.object({
  version: z.number().int().positive(),
  /** Sections whose value this version changed (built successfully). */
  sections: z.array(z.string()),
  /** Ids of the refresh requests this version answers. */
  requests: z.array(z.string()),
  generated_at: z.iso.datetime({ offset: true }),
  bytes: z.number().int().nonnegative(),
  complete: z.boolean(),
  /** This version reflects every event up to this stream entry id (from the requests it answers). */
  events_upto: z.string().optional(),
  /** Present when a patch from this version went out on the patch channel just before. */
  base_version: z.number().int().positive().optional(),
});
export type VersionAnnouncement = z.infer<typeof versionAnnouncement>;

/**
 * One socket message for the realtime gateways, published on the broadcast channel: deliver
 * `message` to every socket in any of `rooms` (each socket once).
 */
export interface BroadcastMessage {
  rooms: string[];
  message: SocketMessage;
}

/** `POST /api/events` answer (202). `ids` in the order posted; `duplicates` were seen before. */
export interface IngestResult {
  accepted: number;
  duplicates: number;
  ids: string[];
}

/** One problem of a refused batch: which event, which field, what is wrong. */
export interface IngestProblem {
  index: number;
  field: string;
  message: string;
}

/** The live state of one worker kept in `workerLive(id)` (all values strings, as Redis holds them). */
export interface WorkerLiveState {
  hostname: string;
  /** JSON array of queue names. */
  queues: string;
  active_jobs: string;
  concurrency: string;
  cpu?: string;
  memory_mb?: string;
  /** ISO time of the heartbeat. */
  at: string;
}

/** One entry of the dead-letter stream (all fields strings, as Redis holds them). */
export interface DeadLetter {
  /** The event JSON exactly as it was on the event stream. */
  event: string;
  reason: string;
  deliveries: string;
  failed_at: string;
  /** Its id on the event stream. */
  source_id: string;
}

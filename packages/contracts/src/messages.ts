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
});
export type VersionAnnouncement = z.infer<typeof versionAnnouncement>;

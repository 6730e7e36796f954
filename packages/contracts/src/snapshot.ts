import { z } from 'zod';
import { SECTION_SCHEMAS } from './sections';

export const snapshotMeta = z.object({
  /** Strictly increasing across every writer. */
  version: z.number().int().positive(),
  generated_at: z.iso.datetime({ offset: true }),
  /** Wall time of the build that produced this version, ms. */
  build_ms: z.number().nonnegative(),
  /** True when some of this is not current: served from the last good copy, or a section failed. */
  stale: z.boolean(),
  /** Section → message, for sections whose last build failed (their previous value is served). */
  errors: z.record(z.string(), z.string()),
});
export type SnapshotMeta = z.infer<typeof snapshotMeta>;

export const snapshot = z.object({ meta: snapshotMeta, ...SECTION_SCHEMAS });
export type Snapshot = z.infer<typeof snapshot>;

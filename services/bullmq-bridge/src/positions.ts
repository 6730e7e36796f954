import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BullmqBridgeKeys } from '@agentos/contracts';
import type { Redis } from '@agentos/runtime';
import { decodeState, encodeState, type JobState } from './mapping';

const SAVE_POSITION = readFileSync(join(__dirname, 'lua', 'savePosition-2.lua'), 'utf8');

/** A read position: a stream entry id, and the entries up to it, read or trimmed (null: not known yet). */
export interface SavedPosition {
  id: string;
  n: number | null;
}

type PositionRedis = Redis & { savePosition(positions: string, states: string, ...args: string[]): Promise<number> };

/**
 * Where each queue's event stream has been read up to, and the job states that reading left, on
 * the SSOT's Redis. Not on BullMQ's: they describe what the SSOT has accepted (they are saved only
 * after the api's 202), so they live and go with the SSOT's namespace; the bridge writes nothing
 * into BullMQ's keyspace, where any key under the prefix could be taken for a queue or a job; and
 * two SSOTs fed from one BullMQ keep positions of their own.
 */
export class PositionStore {
  private readonly redis: PositionRedis;

  constructor(
    redis: Redis,
    private readonly keys: BullmqBridgeKeys,
  ) {
    this.redis = redis as PositionRedis;
    if (typeof this.redis.savePosition !== 'function') redis.defineCommand('savePosition', { numberOfKeys: 2, lua: SAVE_POSITION });
  }

  /**
   * The saved position of `queue`, or null before its first save: the entry id, and how many
   * entries of the stream there are up to it, read or trimmed (what tells a gap, stream-reader.ts).
   */
  async position(queue: string): Promise<SavedPosition | null> {
    const value = await this.redis.hget(this.keys.positions, queue);
    if (!value) return null;
    const [id, n] = value.split(' ');
    return { id: id!, n: n === undefined || !Number.isFinite(Number(n)) ? null : Number(n) };
  }

  /** The saved states of `jobIds` (undefined: none saved). */
  async states(queue: string, jobIds: readonly string[]): Promise<(JobState | undefined)[]> {
    if (jobIds.length === 0) return [];
    const values = await this.redis.hmget(this.keys.jobs(queue), ...jobIds);
    return values.map((value) => decodeState(value));
  }

  /**
   * Saves `position` with the states changed up to it (null: forgotten), atomically; false when
   * the saved position is already at or past it (another replica read on: nothing written).
   */
  async save(queue: string, position: SavedPosition, changes: ReadonlyMap<string, JobState | null>): Promise<boolean> {
    const written: string[] = [];
    const forgotten: string[] = [];
    for (const [jobId, state] of changes) {
      if (state === null) forgotten.push(jobId);
      else written.push(jobId, encodeState(state));
    }
    const value = position.n === null ? position.id : `${position.id} ${position.n}`;
    const saved = await this.redis.savePosition(this.keys.positions, this.keys.jobs(queue), queue, value, String(written.length / 2), ...written, ...forgotten);
    return saved === 1;
  }

  /** One step of a scan over the saved states of `queue`: the next cursor ('0' at the end) and the entries. */
  async scan(queue: string, cursor: string, count: number): Promise<{ cursor: string; states: [jobId: string, state: JobState][] }> {
    const [next, flat] = await this.redis.hscan(this.keys.jobs(queue), cursor, 'COUNT', count);
    const states: [string, JobState][] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const state = decodeState(flat[i + 1]);
      if (state) states.push([flat[i]!, state]);
    }
    return { cursor: next, states };
  }

  /** Forgets the states of jobs BullMQ no longer holds. */
  async forget(queue: string, jobIds: readonly string[]): Promise<void> {
    if (jobIds.length > 0) await this.redis.hdel(this.keys.jobs(queue), ...jobIds);
  }
}

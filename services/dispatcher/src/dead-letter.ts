import type { DeadLetter, RedisKeys } from '@agentos/contracts';
import type { Redis } from '@agentos/runtime';

/** Entries kept on the dead-letter stream (approximately); it is for operators, not a backlog. */
export const DEAD_LETTER_MAXLEN = 100_000;

/** Sets an event aside with the reason, and forgets its failed deliveries. */
export async function deadLetter(redis: Redis, keys: RedisKeys, letter: DeadLetter): Promise<void> {
  await redis
    .multi()
    .xadd(keys.eventsDeadLetter, 'MAXLEN', '~', DEAD_LETTER_MAXLEN, '*', ...Object.entries(letter).flat())
    .hdel(keys.eventAttempts, letter.source_id)
    .exec();
}

export interface ListedLetter extends DeadLetter {
  id: string;
}

export async function listDeadLetters(redis: Redis, keys: RedisKeys, count = 100): Promise<ListedLetter[]> {
  const entries = await redis.xrange(keys.eventsDeadLetter, '-', '+', 'COUNT', count);
  return entries.map(([id, fields]) => {
    const letter: Record<string, string> = { id };
    for (let i = 0; i < fields.length - 1; i += 2) letter[fields[i]!] = fields[i + 1]!;
    return letter as unknown as ListedLetter;
  });
}

/**
 * Puts dead letters back on the event stream, unchanged (same event id: an effect already in the
 * database is not applied twice), and removes them from the dead-letter stream, in one MULTI each.
 * `ids` empty replays them all.
 */
export async function replayDeadLetters(redis: Redis, keys: RedisKeys, ids: readonly string[] = []): Promise<string[]> {
  const letters = await listDeadLetters(redis, keys, 100_000);
  const chosen = ids.length === 0 ? letters : letters.filter((l) => ids.includes(l.id));
  const replayed: string[] = [];
  for (const letter of chosen) {
    await redis.multi().xadd(keys.events, '*', 'event', letter.event).xdel(keys.eventsDeadLetter, letter.id).exec();
    replayed.push(letter.id);
  }
  return replayed;
}

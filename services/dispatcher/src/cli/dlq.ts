/**
 * `npm run dlq -- list [--count N]` shows the dead-letter stream;
 * `npm run dlq -- replay [ID …]` puts dead letters (all, or the ones named) back on the event
 * stream. Uses REDIS_URL and SSOT_NAMESPACE like the services.
 */
import { redisKeys } from '@agentos/contracts';
import { closeRedis, createRedis, loadEnv, redisEnv } from '@agentos/runtime';
import { z } from 'zod';
import { listDeadLetters, replayDeadLetters } from '../dead-letter';

const USAGE = 'usage: npm run dlq -- list [--count N] | replay [ID ...]';

async function main(): Promise<number> {
  const config = loadEnv('dlq', z.object(redisEnv));
  const keys = redisKeys(config.SSOT_NAMESPACE);
  const redis = createRedis(config.REDIS_URL, { name: 'dlq-cli', role: 'command' });
  const [command, ...rest] = process.argv.slice(2);
  try {
    if (command === 'list') {
      const countAt = rest.indexOf('--count');
      const count = countAt >= 0 ? Number(rest[countAt + 1]) : 100;
      if (!Number.isInteger(count) || count <= 0) throw new Error('--count takes a positive whole number');
      const letters = await listDeadLetters(redis, keys, count);
      for (const letter of letters) {
        let name = '?';
        let id = '?';
        try {
          ({ name, id } = JSON.parse(letter.event) as { name: string; id: string });
        } catch {
          /* malformed: shown as ? */
        }
        console.log(`${letter.id}  ${name}  event ${id}  deliveries ${letter.deliveries}  failed ${letter.failed_at}\n    ${letter.reason}`);
      }
      console.log(`${letters.length} dead letter(s)${letters.length === count ? ` (first ${count})` : ''}`);
      return 0;
    }
    if (command === 'replay') {
      const replayed = await replayDeadLetters(redis, keys, rest);
      console.log(`replayed ${replayed.length} dead letter(s)${replayed.length ? `: ${replayed.join(', ')}` : ''}`);
      return rest.length > 0 && replayed.length < rest.length ? 1 : 0;
    }
    console.error(USAGE);
    return 2;
  } finally {
    await closeRedis(redis);
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`dlq: ${error.message}`);
    process.exit(1);
  },
);

import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase, seedReferenceDataset, type TestDatabase } from '@agentos/db';

// The unread count (migration 20261207000000_notification_counts) must equal a recount of
// `notifications` after any mix of writes: the seeder's, plain and duplicate inserts, marking
// read and unread, deletes, concurrent writers, TRUNCATE.

let database: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  database = await createTestDatabase('notification_counts');
  await seedReferenceDataset(database.url, { jobs: 200, workers: 2, logs: 10, days: 1 });
  pool = new pg.Pool({ connectionString: database.url, max: 6 });
  // See rollups.test.ts: an idle client ended from outside must not fail an unrelated test.
  pool.on('error', () => {});
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

async function counted(): Promise<{ counter: number; recount: number }> {
  const { rows } = await pool.query<{ counter: number; recount: number }>(
    `SELECT (SELECT unread FROM notification_counts)::int AS counter,
            (SELECT count(*) FROM notifications WHERE read_at IS NULL)::int AS recount`,
  );
  return rows[0]!;
}

/** Inserts `n` unread notifications in one statement; `eventIds` given, those (maybe again). */
async function insert(n: number, eventIds: string[] = Array.from({ length: n }, () => randomUUID()), client: pg.Pool | pg.PoolClient = pool) {
  await client.query(
    `INSERT INTO notifications (id, kind, severity, title, message, event_id)
     SELECT gen_random_uuid(), 'notify_admin', 'critical', 'Job failed', 'test', e FROM unnest($1::text[]) AS e
     ON CONFLICT (event_id) DO NOTHING`,
    [eventIds],
  );
  return eventIds;
}

describe('notification_counts', () => {
  it('holds one row equal to the recount after the seeder', async () => {
    const { counter, recount } = await counted();
    expect(recount).toBeGreaterThan(0);
    expect(counter).toBe(recount);
    expect((await pool.query('SELECT count(*)::int AS n FROM notification_counts')).rows[0].n).toBe(1);
    await expect(pool.query('INSERT INTO notification_counts (id, unread) VALUES (false, 0)')).rejects.toThrow(/notification_counts_one_row/);
  });

  it('follows inserts, duplicates, reads, unreads and deletes', async () => {
    const before = (await counted()).recount;
    const ids = await insert(25);
    expect(await counted()).toEqual({ counter: before + 25, recount: before + 25 });
    // The same event ids again, and some new: only the new ones count.
    await insert(0, [...ids.slice(0, 10), randomUUID(), randomUUID()]);
    expect(await counted()).toEqual({ counter: before + 27, recount: before + 27 });
    await pool.query('UPDATE notifications SET read_at = now() WHERE event_id = ANY($1)', [ids.slice(0, 8)]);
    expect(await counted()).toEqual({ counter: before + 19, recount: before + 19 });
    // Read ones read again, and some marked unread: only the changes of state count.
    await pool.query('UPDATE notifications SET read_at = now() WHERE event_id = ANY($1)', [ids.slice(0, 12)]);
    await pool.query('UPDATE notifications SET read_at = NULL WHERE event_id = ANY($1)', [ids.slice(0, 3)]);
    expect(await counted()).toEqual({ counter: before + 18, recount: before + 18 });
    await pool.query('DELETE FROM notifications WHERE event_id = ANY($1)', [ids.slice(2, 20)]);
    const after = await counted();
    expect(after.counter).toBe(after.recount);
  });

  it('stays exact with concurrent writers', async () => {
    const clients = await Promise.all(Array.from({ length: 4 }, () => pool.connect()));
    try {
      await Promise.all(
        clients.map(async (client, i) => {
          for (let round = 0; round < 20; round += 1) {
            await client.query('BEGIN');
            const ids = await insert(5, undefined, client);
            if (round % 3 === i % 3) await client.query('UPDATE notifications SET read_at = now() WHERE event_id = $1', [ids[0]]);
            await client.query(round % 5 === 4 ? 'ROLLBACK' : 'COMMIT');
          }
        }),
      );
    } finally {
      for (const client of clients) client.release();
    }
    const { counter, recount } = await counted();
    expect(counter).toBe(recount);
  });

  it('is zero after TRUNCATE, and counts again after it', async () => {
    await pool.query('TRUNCATE notifications');
    expect(await counted()).toEqual({ counter: 0, recount: 0 });
    await insert(3);
    expect(await counted()).toEqual({ counter: 3, recount: 3 });
  });
});

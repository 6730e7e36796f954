import { createDatabase, createTestDatabase, type Database, MAX_PREPARED_STATEMENTS, type TestDatabase } from '@agentos/db';

// createDatabase's `query`: the hot path's statements prepared once per connection (the planning
// it saves is most of the collector's section reads), over the pool Prisma uses.

let database: TestDatabase;
const opened: Database[] = [];

function open(options: { preparedStatements?: boolean } = {}): Database {
  // One connection: what one statement prepared is visible to the next.
  const db = createDatabase(database.url, { poolMax: 1, ...options });
  opened.push(db);
  return db;
}

const preparedTexts = async (db: Database) =>
  (await db.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements ORDER BY statement')).map((r) => r.statement);

beforeAll(async () => {
  database = await createTestDatabase('prepared');
});

afterAll(async () => {
  await Promise.all(opened.map((db) => db.prisma.$disconnect()));
  await database?.drop();
});

describe('createDatabase().query', () => {
  it('prepares a statement once per connection and reuses it', async () => {
    const db = open();
    const text = 'SELECT $1::int + 1 AS n';
    expect(await db.query(text, 1)).toEqual([{ n: 2 }]);
    expect(await db.query(text, 41)).toEqual([{ n: 42 }]);
    const prepared = await preparedTexts(db);
    expect(prepared.filter((t) => t === text)).toHaveLength(1);
  });

  it('returns rows as node-postgres types them: json parsed, int8 as text, timestamps as Date', async () => {
    const db = open();
    const [row] = await db.query<{ j: unknown; big: string; at: Date }>(
      `SELECT json_build_object('a', 1, 'b', ARRAY['x']) AS j, 9007199254740993::int8 AS big, '2026-12-03T10:00:00.123Z'::timestamptz AS at`,
    );
    expect(row).toEqual({ j: { a: 1, b: ['x'] }, big: '9007199254740993', at: new Date('2026-12-03T10:00:00.123Z') });
  });

  it('prepares nothing when turned off (PGlite, a transaction pooler)', async () => {
    const db = open({ preparedStatements: false });
    expect(await db.query('SELECT $1::text AS s', 'x')).toEqual([{ s: 'x' }]);
    expect(await preparedTexts(db)).toEqual([]);
  });

  it(`prepares at most ${MAX_PREPARED_STATEMENTS} distinct texts; past that they run unprepared`, async () => {
    const db = open();
    for (let i = 0; i < MAX_PREPARED_STATEMENTS + 20; i += 1) {
      expect(await db.query(`SELECT ${i} AS i`)).toEqual([{ i }]);
    }
    const prepared = await preparedTexts(db);
    // The texts above and the listing query itself, which came after the limit was reached.
    expect(prepared.length).toBe(MAX_PREPARED_STATEMENTS);
    expect(prepared).not.toContain('SELECT statement FROM pg_prepared_statements ORDER BY statement');
  });

  it('shares its pool with the Prisma client: one connection serves both', async () => {
    const db = open();
    await db.query('SELECT 1');
    const [{ pid }] = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const [viaPrisma] = await db.prisma.$queryRaw<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
    expect(viaPrisma!.pid).toBe(pid);
  });
});

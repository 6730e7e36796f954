// `node packages/db/dist/cli/migrate.js`: applies pending migrations to DATABASE_URL.
import { DbError } from '../errors';
import { migrate } from '../migrate';

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.error('DATABASE_URL is not set: it must name the PostgreSQL database to migrate');
    process.exit(2);
  }
  const { applied } = await migrate(databaseUrl, { log: (line) => console.log(line) });
  console.log(`${applied.length} migration(s) applied`);
}

main().catch((error: unknown) => {
  console.error(error instanceof DbError ? `${error.code}: ${error.message}` : error);
  process.exit(1);
});

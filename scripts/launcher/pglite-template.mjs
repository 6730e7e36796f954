import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';

/**
 * The extensions the migrations create (`CREATE EXTENSION`): PGlite ships each as a bundle of
 * its own, loaded when the database opens. pg_trgm: the job search's text index (migration
 * 20261203100000_job_search).
 */
export const PGLITE_EXTENSIONS = Object.freeze({ pg_trgm });

/**
 * initdb takes seconds, most of a first start, and its result is the same every time for one
 * PGlite version. So a pristine data directory is kept as a tarball in `node_modules/.cache`
 * (made by `npm install`, see prepare-pglite.mjs, or by the first start), and every new data
 * directory starts from it.
 */
export function templateFile(root) {
  const { version } = JSON.parse(readFileSync(join(root, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8'));
  return join(root, 'node_modules', '.cache', 'agentos-launcher', `pglite-${version}-datadir.tar`);
}

/** Opens PGlite in `dir`: as it is, from the template when new, or fresh (keeping a template). */
export async function openPglite(dir, file) {
  const extensions = PGLITE_EXTENSIONS;
  if (existsSync(join(dir, 'PG_VERSION'))) return PGlite.create(dir, { extensions });
  if (existsSync(file)) return PGlite.create(dir, { loadDataDir: new Blob([readFileSync(file)]), extensions });
  const fresh = await PGlite.create(dir, { extensions });
  await saveTemplate(fresh, file).catch(() => {
    // Only a cache: without it the next new data directory runs initdb again.
  });
  return fresh;
}

/** Writes the pristine copy of `db`, taken before anyone connected. */
export async function saveTemplate(db, file) {
  await db.exec('CHECKPOINT');
  const template = Buffer.from(await (await db.dumpDataDir('none')).arrayBuffer());
  mkdirSync(dirname(file), { recursive: true });
  // Written aside and renamed, so a launcher starting alongside never reads half of it.
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, template);
  renameSync(partial, file);
}

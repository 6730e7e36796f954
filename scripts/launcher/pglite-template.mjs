import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
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
 * PGlite version. So a pristine data directory is kept in `node_modules/.cache` (made by `npm
 * install`, see prepare-pglite.mjs, or by the first start), and every new data directory starts
 * as a copy of it. A plain directory rather than PGlite's tarball (`loadDataDir`): copying it and
 * opening the copy took 1.0 s here, unpacking the tarball through PGlite 2.2 s.
 */
export function templateDir(root) {
  const { version } = JSON.parse(readFileSync(join(root, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8'));
  return join(root, 'node_modules', '.cache', 'agentos-launcher', `pglite-${version}-datadir`);
}

export const isDataDir = (dir) => existsSync(join(dir, 'PG_VERSION'));

/** Opens PGlite in `dir`: as it is, as a copy of `template` when new, or fresh (keeping a template). */
export async function openPglite(dir, template) {
  const extensions = PGLITE_EXTENSIONS;
  if (isDataDir(dir)) return PGlite.create(dir, { extensions });
  if (isDataDir(template)) {
    cpSync(template, dir, { recursive: true });
    return PGlite.create(dir, { extensions });
  }
  const fresh = await PGlite.create(dir, { extensions });
  await saveTemplate(fresh, dir, template).catch(() => {
    // Only a cache: without it the next new data directory runs initdb again.
  });
  return fresh;
}

/**
 * Keeps a copy of `db`'s data directory `dir` as the template, taken before anyone connected:
 * after a checkpoint nothing of it is only in memory, and PGlite writes nothing more meanwhile
 * (one process, this one). Copied aside and renamed, so a launcher starting alongside never
 * copies half of it.
 */
export async function saveTemplate(db, dir, template) {
  await db.exec('CHECKPOINT');
  mkdirSync(dirname(template), { recursive: true });
  const partial = `${template}.${process.pid}.tmp`;
  rmSync(partial, { recursive: true, force: true });
  cpSync(dir, partial, { recursive: true });
  try {
    renameSync(partial, template);
  } catch (error) {
    // Another start got there first: theirs is as good.
    rmSync(partial, { recursive: true, force: true });
    if (!isDataDir(template)) throw error;
  }
}

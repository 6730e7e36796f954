// Run by `npm install` (the root postinstall): makes the embedded database's template once, so
// the first `npm start` skips initdb. Best effort: a failure here only makes that start slower,
// and never fails the install.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
try {
  const { isDataDir, saveTemplate, templateDir } = await import('./pglite-template.mjs');
  const template = templateDir(root);
  if (!isDataDir(template)) {
    const { PGlite } = await import('@electric-sql/pglite');
    const dir = mkdtempSync(join(tmpdir(), 'agentos-pglite-'));
    const started = Date.now();
    const db = await PGlite.create(dir);
    await saveTemplate(db, dir, template);
    await db.close();
    rmSync(dir, { recursive: true, force: true });
    console.log(`embedded database template prepared in ${Date.now() - started} ms`);
  }
} catch (error) {
  console.log(`embedded database template not prepared (${error.message}); the first npm start will run initdb`);
}

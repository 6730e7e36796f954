import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';

/**
 * Writes a benchmark's results to `file` — or, when a file of that name already holds an earlier
 * run, to the first free `<name>-2.json`, `<name>-3.json`…: a rerun with the same label on the
 * same day (or the same BENCH_OUT) never replaces a recording that BENCHMARKS.md may cite. Files
 * named `*-latest.json` are meant to be replaced, and so is everything with BENCH_OVERWRITE=1.
 * Returns the path written, for the bench to print.
 */
export function writeResults(file, text) {
  mkdirSync(dirname(file), { recursive: true });
  const target = process.env.BENCH_OVERWRITE === '1' || file.endsWith('-latest.json') ? file : freeName(file);
  writeFileSync(target, text);
  return target;
}

function freeName(file) {
  if (!existsSync(file)) return file;
  const ext = extname(file);
  const stem = join(dirname(file), basename(file, ext));
  for (let n = 2; ; n += 1) {
    const candidate = `${stem}-${n}${ext}`;
    if (!existsSync(candidate)) return candidate;
  }
}

// The benchmarks' results files (bench/lib/results.mjs): a rerun under the same name keeps the
// earlier recording, which BENCHMARKS.md may cite, and writes beside it; `*-latest.json` and
// BENCH_OVERWRITE=1 replace. Run as the benches run it: node importing the module.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const helper = join(__dirname, '..', 'bench', 'lib', 'results.mjs');

/** Writes `text` to `file` through the helper, in a node process of its own; the path it wrote. */
function write(file: string, text: string, env: Record<string, string> = {}): string {
  const script = `import { writeResults } from ${JSON.stringify(helper)}; process.stdout.write(writeResults(process.argv[1], process.argv[2]));`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script, file, text], { env: { ...process.env, BENCH_OVERWRITE: '', ...env } }).toString();
}

describe('bench results files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ssot-bench-results-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('never replaces an earlier run: the next goes to the first free -N name', () => {
    const file = join(dir, 'results', 'realtime-2026-12-04-small.json');
    expect(write(file, 'first')).toBe(file);
    expect(write(file, 'second')).toBe(join(dir, 'results', 'realtime-2026-12-04-small-2.json'));
    expect(write(file, 'third')).toBe(join(dir, 'results', 'realtime-2026-12-04-small-3.json'));
    const read = (name: string) => readFileSync(join(dir, 'results', name), 'utf8');
    expect([read('realtime-2026-12-04-small.json'), read('realtime-2026-12-04-small-2.json'), read('realtime-2026-12-04-small-3.json')]).toEqual(['first', 'second', 'third']);
  });

  it('replaces a -latest file, and anything with BENCH_OVERWRITE=1', () => {
    const latest = join(dir, 'events-latest.json');
    write(latest, 'old');
    expect(write(latest, 'new')).toBe(latest);
    const dated = join(dir, 'events-2026-12-04.json');
    write(dated, 'old');
    expect(write(dated, 'new', { BENCH_OVERWRITE: '1' })).toBe(dated);
    expect(readdirSync(dir).sort()).toEqual(['events-2026-12-04.json', 'events-latest.json']);
    expect([readFileSync(latest, 'utf8'), readFileSync(dated, 'utf8')]).toEqual(['new', 'new']);
  });
});

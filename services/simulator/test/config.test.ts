import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@agentos/runtime';
import { loadSimulatorConfig } from '../src/config';

describe('the simulator configuration', () => {
  it('takes flags over variables, both forms of a flag, and defaults the rest', () => {
    const config = loadSimulatorConfig({ INGEST_TOKEN: 'token-0123456789', SIM_RATE: '50', SIM_WORKERS: '12' }, ['--rate', '2000', '--duration=60', '--seed', 'bench-1']);
    expect(config).toMatchObject({
      SIM_RATE: 2000,
      SIM_DURATION_S: 60,
      SIM_SEED: 'bench-1',
      SIM_WORKERS: 12,
      SIM_SPEED: 1,
      SIM_FAILURE_RATE: 0.02,
      INGEST_URL: 'http://127.0.0.1:3000',
      INGEST_TOKEN: 'token-0123456789',
      PORT: 3007,
    });
    expect(Object.isFrozen(config)).toBe(true);
    // No seed given: a new one each run (logged, so the run can be replayed).
    expect(loadSimulatorConfig({ INGEST_TOKEN: 't' }).SIM_SEED).toMatch(/^[0-9a-f]{8}$/);
    expect(loadSimulatorConfig({ INGEST_TOKEN: 't' }).SIM_DURATION_S).toBeUndefined();
  });

  it("posts with the launcher's development ingest token when INGEST_TOKEN is not set", () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-config-'));
    try {
      writeFileSync(join(dir, 'dev-ingest-token'), 'dev-token-from-the-launcher\n');
      expect(loadSimulatorConfig({ SSOT_DATA_DIR: dir }).INGEST_TOKEN).toBe('dev-token-from-the-launcher');
      expect(loadSimulatorConfig({ SSOT_DATA_DIR: dir, INGEST_TOKEN: 'mine' }).INGEST_TOKEN).toBe('mine');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails with one message naming every problem, flags included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-config-'));
    try {
      let error: unknown;
      try {
        loadSimulatorConfig({ SSOT_DATA_DIR: dir, SIM_SPEED: '0', INGEST_URL: 'ftp://x' }, ['--rate', 'many', '--workers=2', '--bogus', '1', '--seed']);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message.split('\n')).toEqual([
        'simulator: invalid environment (7 problems):',
        '  SIM_RATE (--rate): Invalid input: expected number, received NaN',
        '  SIM_WORKERS (--workers): at least 4 (one per pool)',
        '  SIM_SPEED (--speed): Too small: expected number to be >=0.1',
        expect.stringMatching(/^ {2}INGEST_URL \(--ingest-url\): /),
        expect.stringMatching(/^ {2}--bogus: not an option \(--rate, --seed, /),
        '  --seed: needs a value',
        `  INGEST_TOKEN: is required (nor is there a launcher dev token in ${join(dir, 'dev-ingest-token')})`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

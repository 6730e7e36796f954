import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Creates the data directory and claims it for this launcher: two launchers on one directory
 * would open the same PGlite files from two processes and corrupt them. Returns a release function.
 * A lock left by a launcher that no longer runs is taken over.
 */
export function claimDataDir(dataDir) {
  mkdirSync(dataDir, { recursive: true });
  const lockFile = join(dataDir, 'launcher.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
      return () => rmSync(lockFile, { force: true });
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      const owner = Number.parseInt(readFileSync(lockFile, 'utf8'), 10);
      if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
        throw new Error(`another launcher (pid ${owner}) is using ${dataDir}; stop it first or set SSOT_DATA_DIR`);
      }
      rmSync(lockFile, { force: true });
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

// Runs `prisma generate` for the client in src/generated/prisma.
//
// The Prisma CLI insists on locating its schema engine at start even though `generate` never
// uses it; where the engine cannot be downloaded (offline CI), any existing file will do.
// `--if-missing` skips the work when the client is already there (used before every build).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const generated = join(root, 'src/generated/prisma/client.ts');
if (process.argv.includes('--if-missing') && existsSync(generated)) process.exit(0);

const env = { ...process.env, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= process.execPath;
const result = spawnSync('npx', ['prisma', 'generate', '--schema', 'prisma/schema.prisma'], {
  cwd: root,
  env,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);

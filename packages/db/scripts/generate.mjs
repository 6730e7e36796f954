// Runs `prisma generate` for the client in src/generated/prisma.
//
// The Prisma CLI insists on locating its schema engine at start even though `generate` never
// uses it; where the engine cannot be downloaded (offline CI), any existing file will do.
// `--if-missing` skips the work when the client is already there and was generated from this
// very schema (used before every build: an edited schema.prisma regenerates it).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const generated = join(root, 'src/generated/prisma/client.ts');
const stamp = join(root, 'src/generated/prisma/.schema-sha256');
const schemaHash = createHash('sha256').update(readFileSync(join(root, 'prisma/schema.prisma'))).digest('hex');
const current = existsSync(generated) && existsSync(stamp) && readFileSync(stamp, 'utf8') === schemaHash;
if (process.argv.includes('--if-missing') && current) process.exit(0);

const env = { ...process.env, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= process.execPath;
const result = spawnSync('npx', ['prisma', 'generate', '--schema', 'prisma/schema.prisma'], {
  cwd: root,
  env,
  stdio: 'inherit',
});
if (result.status === 0) writeFileSync(stamp, schemaHash);
process.exit(result.status ?? 1);

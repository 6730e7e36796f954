// Schema checks of rendered Kubernetes documents, both run as child processes (the models are ES
// modules only): `validate()` of each kind's model (types, required fields, enums), and tsc over
// every document written as `<literal> satisfies I<Kind>` — excess-property checks, which is what
// catches an unknown or misspelt key (validate() lets those through).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Doc, ROOT } from './manifests';

export interface ModelProblem {
  index: number;
  kind: string;
  name: string;
  error: string;
}

export function validateWithModels(docs: readonly Doc[]): ModelProblem[] {
  const out = execFileSync(process.execPath, [join(__dirname, 'validate-k8s.mjs')], {
    input: JSON.stringify(docs),
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out) as ModelProblem[];
}

const TYPE_MODULES: Record<string, string> = {
  'keda.sh': '@kubernetes-models/keda',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

function typeModule(apiVersion: string, kind: string): string {
  if (!apiVersion.includes('/')) return `kubernetes-models/${apiVersion}/${kind}`;
  const [group, version] = apiVersion.split('/') as [string, string];
  return `${TYPE_MODULES[group] ?? 'kubernetes-models'}/${group}/${version}/${kind}`;
}

/**
 * tsc over the documents as typed literals. Returns the documents (by index) tsc reported an
 * error in, with its messages. Runs in a directory under node_modules so the types resolve.
 */
export function typecheckDocuments(docs: readonly Doc[]): Map<number, string[]> {
  const cache = join(ROOT, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'ssot-k8s-types-'));
  try {
    const imports = new Map<string, string>();
    const lines: string[] = [];
    const lineOfDoc: number[] = [];
    for (const doc of docs) {
      const module = typeModule(doc.apiVersion, doc.kind);
      if (!imports.has(module)) imports.set(module, `T${imports.size}`);
    }
    for (const [module, alias] of imports) lines.push(`import type { I${module.split('/').pop()} as ${alias} } from '${module}';`);
    for (const [index, doc] of docs.entries()) {
      lineOfDoc[index] = lines.length + 1;
      const json = JSON.stringify(doc, null, 1).split('\n');
      lines.push(`export const doc${index} = ${json[0]}`, ...json.slice(1, -1), `${json.at(-1)} satisfies ${imports.get(typeModule(doc.apiVersion, doc.kind))};`);
    }
    writeFileSync(join(dir, 'documents.mts'), `${lines.join('\n')}\n`);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: [] },
        files: ['documents.mts'],
      }),
    );
    let output = '';
    try {
      execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', dir], { encoding: 'utf8', timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
    } catch (error) {
      output = String((error as { stdout?: string }).stdout ?? error);
      if (!/error TS\d+/.test(output)) throw error;
    }
    const errors = new Map<number, string[]>();
    for (const match of output.matchAll(/documents\.mts\((\d+),\d+\): (error TS\d+: .*)/g)) {
      const line = Number(match[1]);
      let index = 0;
      while (index + 1 < docs.length && lineOfDoc[index + 1]! <= line) index += 1;
      errors.set(index, [...(errors.get(index) ?? []), match[2]!]);
    }
    if (output !== '' && errors.size === 0) throw new Error(`tsc failed outside the documents:\n${output}`);
    return errors;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Rendering and reading the deployment files offline (../shared/notes/deploy-validation.md):
// `kubectl kustomize` for k8s/, the `yaml` package for docker-compose.yml, and each service's own
// env schema (its src/config.ts) for the variables they set.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';

export const ROOT = join(__dirname, '..', '..', '..');

/** A Kubernetes object as rendered: what the tests read of it is typed loosely on purpose. */
export interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [field: string]: any;
}

/** `kubectl kustomize DIR`, parsed: the documents an apply would send. */
export function kustomize(dir: string): Doc[] {
  const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  return parseAllDocuments(out)
    .map((doc) => doc.toJS() as Doc)
    .filter((doc) => doc !== null);
}

/**
 * Components as an operator adds them: a copy of k8s/ whose production overlay also lists them,
 * with the `patches` such an operator writes, rendered.
 */
export function kustomizeProductionWith(components: readonly string[], patches: readonly object[] = []): Doc[] {
  const dir = mkdtempSync(join(tmpdir(), 'ssot-k8s-'));
  try {
    cpSync(join(ROOT, 'k8s'), join(dir, 'k8s'), { recursive: true });
    const file = join(dir, 'k8s', 'overlays', 'production', 'kustomization.yaml');
    const kustomization = parse(readFileSync(file, 'utf8'));
    kustomization.components = components.map((c) => `../../components/${c}`);
    kustomization.patches = [...(kustomization.patches ?? []), ...patches];
    writeFileSync(file, stringify(kustomization));
    return kustomize(join(dir, 'k8s', 'overlays', 'production'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function find(docs: readonly Doc[], kind: string, name: string): Doc {
  const doc = docs.find((d) => d.kind === kind && d.metadata.name === name);
  if (!doc) throw new Error(`no ${kind} ${name} in the rendered output`);
  return doc;
}

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'Job'];

export interface Container {
  workload: Doc;
  podSpec: Doc['spec'];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  container: any;
}

export function containers(docs: readonly Doc[]): Container[] {
  return docs
    .filter((doc) => WORKLOAD_KINDS.includes(doc.kind))
    .flatMap((workload) => {
      const podSpec = workload.spec.template.spec;
      return [...(podSpec.initContainers ?? []), ...podSpec.containers].map((container) => ({ workload, podSpec, container }));
    });
}

/** Where a variable's value comes from: written out (a literal or a ConfigMap's), or a Secret. */
export type EnvSource = { from: 'literal'; value: string } | { from: 'configmap'; value: string; configMap: string } | { from: 'secret'; secret: string; key: string; optional: boolean };

/** A container's environment as the kubelet would assemble it (envFrom first, env after). */
export function containerEnv(docs: readonly Doc[], container: Container['container']): Map<string, EnvSource> {
  const env = new Map<string, EnvSource>();
  for (const source of container.envFrom ?? []) {
    if (!source.configMapRef) throw new Error(`${container.name}: envFrom other than a ConfigMap (${JSON.stringify(source)})`);
    const configMap = find(docs, 'ConfigMap', source.configMapRef.name);
    for (const [name, value] of Object.entries(configMap.data ?? {})) env.set(name, { from: 'configmap', value: String(value), configMap: configMap.metadata.name });
  }
  for (const variable of container.env ?? []) {
    if ('value' in variable) env.set(variable.name, { from: 'literal', value: String(variable.value) });
    else if (variable.valueFrom?.secretKeyRef) {
      const ref = variable.valueFrom.secretKeyRef;
      env.set(variable.name, { from: 'secret', secret: ref.name, key: ref.key, optional: ref.optional === true });
    } else if (variable.valueFrom?.configMapKeyRef) {
      const ref = variable.valueFrom.configMapKeyRef;
      env.set(variable.name, { from: 'configmap', value: String(find(docs, 'ConfigMap', ref.name).data[ref.key]), configMap: ref.name });
    } else throw new Error(`${container.name}: ${variable.name} has a source the tests do not know`);
  }
  return env;
}

/** docker-compose.yml as Compose reads it: YAML merge keys (`<<: *anchor`) applied. */
export function readCompose(file = join(ROOT, 'docker-compose.yml')): Doc {
  return parse(readFileSync(file, 'utf8'), { merge: true });
}

/** The `KEY=value` lines of an env file. */
export function readEnvFile(file: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) entries.set(match[1]!, match[2]!);
  }
  return entries;
}

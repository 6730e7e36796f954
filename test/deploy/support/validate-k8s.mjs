// Validates Kubernetes documents (a JSON array on stdin) with kubernetes-models and the KEDA and
// prometheus-operator models: each document becomes its kind's model and `validate()` runs the
// kind's JSON schema (types, required fields, enums). Prints `[{index, kind, name, error}]`, one
// entry per document that failed or whose kind has no model. A script of its own because the
// models are ES modules only, which jest's CommonJS runtime cannot load.
import { readFileSync } from 'node:fs';

const PACKAGES = {
  'keda.sh': '@kubernetes-models/keda',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

function modulePath(apiVersion, kind) {
  if (!apiVersion.includes('/')) return `kubernetes-models/${apiVersion}/${kind}`;
  const [group, version] = apiVersion.split('/');
  const pkg = PACKAGES[group] ?? 'kubernetes-models';
  return `${pkg}/${group}/${version}/${kind}`;
}

const docs = JSON.parse(readFileSync(0, 'utf8'));
const problems = [];
for (const [index, doc] of docs.entries()) {
  const name = doc?.metadata?.name;
  try {
    const module = await import(modulePath(doc.apiVersion, doc.kind));
    const Model = module[doc.kind];
    if (typeof Model !== 'function') throw new Error(`no model for ${doc.apiVersion} ${doc.kind}`);
    new Model(doc).validate();
  } catch (error) {
    problems.push({ index, kind: doc?.kind, name, error: String(error?.message ?? error).slice(0, 2000) });
  }
}
process.stdout.write(JSON.stringify(problems));

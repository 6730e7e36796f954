// Every metric an alert rule or a Grafana panel names is one a service exposes: checked against
// the live /metrics of the services, run as the processes they are in production (their dist/,
// which `npm test` builds first) on the real Redis and PostgreSQL, after some traffic. Every
// query parses as PromQL, and every alert's runbook is a section of docs/operations.md.
//
// Metrics with labels appear in /metrics as `# TYPE` only until first touched (prom-client prints
// no sample for a label set it has not seen): a metric's existence is read from its `# TYPE`
// line, which a registered metric always has, and the label names a query uses are checked
// against the samples of those families that have some after the traffic below (events posted,
// a snapshot read, a warm). Families still without samples (failures that did not happen:
// section failures, dead letters, webhook posts) are checked by name only.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@agentos/db';
import { parser } from '@prometheus-io/lezer-promql';
import { parse } from 'yaml';
import { type ServiceName, type ServiceProcess, spawnService } from '../support/processes';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../support/redis';
import { signToken, TEST_SECRET } from '../support/tokens';
import { waitFor } from '../support/wait';
import { ROOT } from './support/manifests';

const INGEST_TOKEN = 'deploy-metrics-ingest-token-0123';
/** Labels Prometheus attaches to every scraped series (the ServiceMonitor's target labels). */
const TARGET_LABELS = new Set(['job', 'namespace', 'pod', 'instance', 'service', 'endpoint', 'container']);
/** Series Prometheus makes itself for each scrape target, not exposed by any service. */
const SYNTHETIC = new Set(['up']);

const rules = parse(readFileSync(join(ROOT, 'k8s/base/monitoring/prometheus-rule.yaml'), 'utf8')).spec.groups.flatMap((g: { rules: unknown[] }) => g.rules) as {
  alert: string;
  expr: string;
  annotations: Record<string, string>;
}[];
const dashboard = JSON.parse(readFileSync(join(ROOT, 'k8s/base/monitoring/grafana-dashboard.json'), 'utf8'));
const panels = (dashboard.panels as { type: string; title: string; id: number; targets?: { expr: string }[] }[]).filter((p) => p.type !== 'row');

interface Query {
  where: string;
  expr: string;
}
const QUERIES: Query[] = [
  ...rules.map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr })),
  ...panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}"`, expr: target.expr }))),
];

interface Selector {
  metric: string;
  labels: string[];
  /** `job="x"` or `job=~"a|b"`: the jobs it selects, when it names them. */
  jobs: string[];
}

/** The selectors and grouping labels of a query, by its syntax tree. Grafana's variables become what Prometheus would see. */
function readQuery(expr: string): { selectors: Selector[]; grouping: string[]; errors: string[] } {
  const text = expr.replace(/\$__rate_interval|\$__interval/g, '5m');
  const tree = parser.parse(text);
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  const errors: string[] = [];
  const cursor = tree.cursor();
  do {
    const node = cursor.node;
    if (node.type.isError) errors.push(`syntax error at ${node.from}: ${text.slice(Math.max(0, node.from - 20), node.to + 20)}`);
    if (node.name === 'VectorSelector') {
      const metric = node.getChild('Identifier');
      const labels: string[] = [];
      const jobs: string[] = [];
      const matchers = node.getChild('LabelMatchers');
      for (const matcher of matchers?.getChildren('UnquotedLabelMatcher') ?? []) {
        const name = text.slice(matcher.getChild('LabelName')!.from, matcher.getChild('LabelName')!.to);
        labels.push(name);
        const value = JSON.parse(text.slice(matcher.getChild('StringLiteral')!.from, matcher.getChild('StringLiteral')!.to));
        if (name === 'job' && !value.startsWith('$')) jobs.push(...value.split('|'));
      }
      if (metric) selectors.push({ metric: text.slice(metric.from, metric.to), labels, jobs });
    }
    if (node.name === 'GroupingLabels') for (const label of node.getChildren('LabelName')) grouping.push(text.slice(label.from, label.to));
  } while (cursor.next());
  return { selectors, grouping, errors };
}

/** /metrics text → family name → type, and series name → label names seen in its samples. */
function readExposition(text: string, families: Map<string, string>, labelsOf: Map<string, Set<string>>): void {
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      families.set(type[1]!, type[2]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!sample) continue;
    const names = labelsOf.get(sample[1]!) ?? new Set<string>();
    for (const match of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) names.add(match[1]!);
    labelsOf.set(sample[1]!, names);
  }
}

/** The family a series name belongs to: itself, or a histogram's/summary's `_bucket`, `_sum`, `_count`. */
function familyOf(series: string, families: Map<string, string>): string | undefined {
  if (families.has(series)) return series;
  const match = /^(.*)_(bucket|sum|count)$/.exec(series);
  if (match && ['histogram', 'summary'].includes(families.get(match[1]!) ?? '')) return match[1];
  return undefined;
}

test('every alert and panel query is valid PromQL', () => {
  expect(QUERIES.length).toBeGreaterThan(40);
  for (const query of QUERIES) expect([query.where, readQuery(query.expr).errors]).toEqual([query.where, []]);
});

test('every alert links to its runbook, a section of docs/operations.md, and says what and why', () => {
  const headings = new Set(
    [...readFileSync(join(ROOT, 'docs/operations.md'), 'utf8').matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
      m[1]!.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-'),
    ),
  );
  const names = rules.map((rule) => rule.alert);
  expect(new Set(names).size).toBe(names.length);
  for (const rule of rules) {
    expect([rule.alert, rule.annotations.runbook_url]).toEqual([rule.alert, expect.stringMatching(/\/docs\/operations\.md#[a-z0-9-]+$/)]);
    const anchor = rule.annotations.runbook_url!.split('#')[1]!;
    expect([rule.alert, anchor, headings.has(anchor)]).toEqual([rule.alert, anchor, true]);
    expect([rule.alert, Boolean(rule.annotations.summary), Boolean(rule.annotations.description)]).toEqual([rule.alert, true, true]);
  }
  // The seed's health targets, and the stream's: each has its alert.
  for (const metric of ['ssot_reads_total', 'ssot_warms_total', 'ssot_dispatch_latency_seconds_bucket', 'up', 'ssot_event_stream', 'ssot_events_dead_lettered_total']) {
    expect([metric, rules.some((rule) => readQuery(rule.expr).selectors.some((s) => s.metric === metric))]).toEqual([metric, true]);
  }
});

test('the dashboard: unique panel ids, every panel on the grid, every query on the data source variable', () => {
  const ids = panels.map((p) => p.id);
  expect(new Set(ids).size).toBe(ids.length);
  for (const panel of dashboard.panels as { title: string; gridPos: { x: number; w: number }; datasource?: { uid: string } }[]) {
    expect([panel.title, panel.gridPos.x + panel.gridPos.w <= 24]).toEqual([panel.title, true]);
  }
  for (const panel of panels) expect([panel.title, (panel as unknown as { datasource: { uid: string } }).datasource.uid]).toEqual([panel.title, '${datasource}']);
});

describe('against the live services', () => {
  const namespace = uniqueNamespace('deploy-metrics');
  const processes: ServiceProcess[] = [];
  let db: TestDatabase;
  const families = new Map<string, string>();
  const labelsOf = new Map<string, Set<string>>();
  /** Which service exposes each family (its job label, the Service's name). */
  const exposedBy = new Map<string, Set<string>>();

  beforeAll(async () => {
    db = await createTestDatabase('deploy_metrics');
    const env = { REDIS_URL: TEST_REDIS_URL, SSOT_NAMESPACE: namespace, LOG_LEVEL: 'warn' };
    const started = await Promise.all(
      (
        [
          ['collector', { ...env, DATABASE_URL: db.url }],
          ['dispatcher', { ...env, DATABASE_URL: db.url }],
          ['cache-warmer', env],
          ['api', { ...env, DATABASE_URL: db.url, AUTH_JWT_SECRET: TEST_SECRET, INGEST_TOKENS: INGEST_TOKEN }],
          ['realtime-gateway', { ...env, AUTH_JWT_SECRET: TEST_SECRET }],
        ] as [ServiceName, Record<string, string>][]
      ).map(([name, serviceEnv]) => spawnService(name, serviceEnv)),
    );
    processes.push(...started);
    const api = started.find((p) => p.name === 'api')!;
    // The bridges post to that api; their platforms are databases of the test Redis that nothing
    // else uses (the bullmq-bridge SCANs its Redis for queues).
    const platform = { ...env, INGEST_URL: api.url, INGEST_TOKEN };
    const database = (n: number) => `${TEST_REDIS_URL.replace(/\/\d*$/, '')}/${n}`;
    processes.push(
      ...(await Promise.all([
        spawnService('celery-bridge', { ...platform, CELERY_BROKER_URL: database(14) }),
        spawnService('bullmq-bridge', { ...platform, BULLMQ_REDIS_URL: database(13), BULLMQ_PREFIX: `${namespace}-bull` }),
      ])),
    );

    // Traffic: a job's life, a failure, a heartbeat; a snapshot read; then wait for a warm and
    // for the dispatcher to have handled the events.
    const events = [
      { name: 'worker:heartbeat', payload: { worker_id: 'w-1', queues: ['default'], active_jobs: 1, concurrency: 4 } },
      { name: 'job:created', payload: { job_id: 'j-1', queue: 'default', type: 'demo' } },
      { name: 'job:processing', payload: { job_id: 'j-1', queue: 'default', type: 'demo', worker_id: 'w-1' } },
      { name: 'job:failed', payload: { job_id: 'j-1', queue: 'default', type: 'demo', worker_id: 'w-1', error: 'boom' } },
    ];
    const posted = await fetch(`${api.url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${INGEST_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events }),
    });
    expect(posted.status).toBe(202);
    const admin = await signToken({ sub: 'deploy-test', role: 'admin' });
    await waitFor(async () => (await fetch(`${api.url}/api/admin/ssot`, { headers: { authorization: `Bearer ${admin}` } })).status === 200, {
      timeoutMs: 45_000,
      message: 'a snapshot read answered 200',
    });
    const scrape = async (name: string) => (await processes.find((p) => p.name === name)!.get('/metrics', 15_000)).body;
    await waitFor(async () => /ssot_warms_total\{result="ok"\}/.test(await scrape('cache-warmer')), { timeoutMs: 45_000, message: 'a warm' });
    await waitFor(async () => /ssot_events_processed_total\{.*outcome="applied"/.test(await scrape('dispatcher')), { timeoutMs: 45_000, message: 'events applied' });

    for (const process of processes) {
      const { status, body } = await process.get('/metrics', 15_000);
      expect([process.name, status]).toEqual([process.name, 200]);
      const own = new Map<string, string>();
      readExposition(body, own, labelsOf);
      for (const [family, type] of own) {
        families.set(family, type);
        exposedBy.set(family, new Set([...(exposedBy.get(family) ?? []), process.name]));
      }
    }
  }, 180_000);

  // Removing the namespace SCANs the whole Redis: slow on a Redis that other suites filled.
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await db?.drop();
    await cleanupNamespace(namespace);
  }, 120_000);

  test('every metric a query names is exposed, by the service its job label names', () => {
    expect(families.size).toBeGreaterThan(50);
    const missing: string[] = [];
    const wrongJob: string[] = [];
    for (const query of QUERIES) {
      for (const selector of readQuery(query.expr).selectors) {
        if (SYNTHETIC.has(selector.metric)) continue;
        const family = familyOf(selector.metric, families);
        if (!family) {
          missing.push(`${query.where}: ${selector.metric}`);
          continue;
        }
        for (const job of selector.jobs) if (!exposedBy.get(family)!.has(job)) wrongJob.push(`${query.where}: ${selector.metric} is not exposed by ${job}`);
      }
    }
    expect(missing).toEqual([]);
    expect(wrongJob).toEqual([]);
  });

  test('every label a query matches or groups by is one the metric carries (where it has samples) or a target label', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const query of QUERIES) {
      const { selectors, grouping } = readQuery(query.expr);
      const real = selectors.filter((s) => !SYNTHETIC.has(s.metric));
      const carried = new Set(['le', ...real.flatMap((s) => [...(labelsOf.get(s.metric) ?? [])])]);
      const sampled = real.every((s) => labelsOf.has(s.metric));
      for (const label of [...real.flatMap((s) => s.labels), ...grouping]) {
        if (TARGET_LABELS.has(label) || !sampled) continue;
        checked += 1;
        if (!carried.has(label)) problems.push(`${query.where}: ${label} is not a label of ${real.map((s) => s.metric).join(', ')}`);
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });

  test('the jobs `up` is asked about are services Prometheus scrapes', () => {
    const scraped = new Set(processes.map((p) => p.name as string).concat('simulator'));
    for (const query of QUERIES) {
      for (const selector of readQuery(query.expr).selectors.filter((s) => s.metric === 'up')) {
        for (const job of selector.jobs) expect([query.where, job, scraped.has(job)]).toEqual([query.where, job, true]);
      }
    }
  });
});

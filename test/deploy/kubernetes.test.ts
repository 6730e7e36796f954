// k8s/ rendered offline with `kubectl kustomize` (both overlays, and production with the
// components): every document valid against its Kubernetes, KEDA or prometheus-operator schema
// with no unknown key; what each overlay sets, read back from the output; what every container
// must have; every variable a service reads from what the manifests set; no secret written out.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DISPATCHER_GROUP, redisKeys } from '@agentos/contracts';
import { parseAllDocuments } from 'yaml';
import { type Container, type Doc, ROOT, containerEnv, containers, find, kustomize, kustomizeProductionWith } from './support/manifests';
import { ENV_SCHEMAS, SECRET_STAND_INS, SECRET_VARIABLES } from './support/env-schemas';
import { typecheckDocuments, validateWithModels } from './support/schemas';

const CORE = ['api', 'realtime-gateway', 'collector', 'cache-warmer', 'dispatcher'];
const COMPONENTS = ['simulator', 'celery-bridge', 'bullmq-bridge'];
/** The graceful stop runService gives itself (packages/runtime/src/shutdown.ts), in seconds. */
const GRACE_S = Number(/graceMs = ([\d_]+)/.exec(readFileSync(join(ROOT, 'packages/runtime/src/shutdown.ts'), 'utf8'))![1]!.replace(/_/g, '')) / 1000;

const rendered: Record<string, Doc[]> = {};
beforeAll(() => {
  rendered.dev = kustomize(join(ROOT, 'k8s/overlays/dev'));
  rendered.production = kustomize(join(ROOT, 'k8s/overlays/production'));
  // The bridges' brokers are the operator's to name, like Redis's and PostgreSQL's subnet.
  rendered['production+components'] = kustomizeProductionWith(COMPONENTS, [
    {
      target: { kind: 'NetworkPolicy', name: 'ssot-(celery|bullmq)-bridge-egress' },
      patch: '- { op: replace, path: /spec/egress/1/to/0/ipBlock/cidr, value: 10.30.0.0/16 }',
    },
  ]);
}, 120_000);

const OUTPUTS = ['dev', 'production', 'production+components'];

describe('schemas', () => {
  test.each(OUTPUTS)('%s: every document validates against its kind’s model', (output) => {
    expect(validateWithModels(rendered[output]!)).toEqual([]);
  });

  test('every document has no unknown key (tsc, `satisfies I<Kind>`), and a misspelt key is caught', () => {
    const docs = [...rendered.dev!, ...rendered['production+components']!];
    const deployment = find(docs, 'Deployment', 'api');
    // A control that must fail, so the check is known to work: `replica` for `replicas`.
    const misspelt = { ...deployment, spec: { ...deployment.spec, replica: 3 } };
    const errors = typecheckDocuments([...docs, misspelt]);
    expect([...errors.keys()]).toEqual([docs.length]);
    expect(errors.get(docs.length)!.join('\n')).toMatch(/'"replica"' does not exist in type 'IDeploymentSpec'/);
  }, 120_000);
});

describe.each(OUTPUTS)('%s', (output) => {
  const docs = () => rendered[output]!;
  const ours = () => containers(docs()).filter(({ container }) => container.name in ENV_SCHEMAS);

  test('no Secret is rendered and no secret is written out', () => {
    expect(docs().filter((doc) => doc.kind === 'Secret')).toEqual([]);
    const text = JSON.stringify(docs());
    expect(text).not.toMatch(/[a-z+]+:\/\/[^\s/:@"]+:[^\s/@"]+@/); // a URL with a password
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/); // a JWT
    // Settings only in ConfigMaps: no key that names a secret, no URL but public endpoints.
    const PUBLIC_URLS = new Set(['AUTH_JWKS_URL', 'INGEST_URL']);
    for (const configMap of docs().filter((doc) => doc.kind === 'ConfigMap' && doc.data)) {
      const secretKeys = Object.keys(configMap.data).filter((key) => /SECRET|TOKEN|PASSWORD/.test(key) || (/_URL$/.test(key) && !PUBLIC_URLS.has(key)));
      expect([configMap.metadata.name, secretKeys]).toEqual([configMap.metadata.name, []]);
    }
    for (const { container } of containers(docs())) {
      for (const [name, source] of containerEnv(docs(), container)) {
        if (SECRET_VARIABLES.has(name)) expect(`${container.name}: ${name} from ${source.from}`).toBe(`${container.name}: ${name} from secret`);
      }
    }
    for (const auth of docs().filter((doc) => doc.kind === 'TriggerAuthentication')) {
      expect(Object.keys(auth.spec)).toEqual(['secretTargetRef']);
    }
  });

  test('every variable a container sets is in its service’s env schema, and the service accepts the environment', () => {
    expect(ours().length).toBeGreaterThan(0);
    for (const { container } of ours()) {
      const schema = ENV_SCHEMAS[container.name]!;
      const env = containerEnv(docs(), container);
      const unknown = [...env.keys()].filter((name) => !schema.names.has(name));
      expect(`${container.name}: ${unknown.join(', ')}`).toBe(`${container.name}: `);
      // Secrets replaced by valid stand-ins; written-out values as written: the service's own
      // loader (required variables, values, cross-variable rules) must accept it.
      const values: Record<string, string> = {};
      for (const [name, source] of env) {
        if (source.from === 'secret') {
          if (!source.optional) values[name] = SECRET_STAND_INS[name] ?? 'stand-in';
        } else values[name] = source.value;
      }
      expect(() => schema.load(values)).not.toThrow();
    }
  });

  test('every container has probes, requests, limits, and runs as non-root on a read-only root', () => {
    for (const { workload, podSpec, container } of containers(docs())) {
      const where = `${workload.kind} ${workload.metadata.name}/${container.name}`;
      if (workload.kind !== 'Job') {
        expect([where, Boolean(container.livenessProbe), Boolean(container.readinessProbe)]).toEqual([where, true, true]);
      }
      for (const kind of ['requests', 'limits']) for (const resource of ['cpu', 'memory']) expect([where, kind, resource, container.resources?.[kind]?.[resource] !== undefined]).toEqual([where, kind, resource, true]);
      const nonRoot = container.securityContext?.runAsNonRoot ?? podSpec.securityContext?.runAsNonRoot;
      const user = container.securityContext?.runAsUser ?? podSpec.securityContext?.runAsUser;
      expect([where, nonRoot, user > 0]).toEqual([where, true, true]);
      expect([where, container.securityContext?.allowPrivilegeEscalation, container.securityContext?.readOnlyRootFilesystem, container.securityContext?.capabilities?.drop]).toEqual([where, false, true, ['ALL']]);
      expect([where, podSpec.securityContext?.seccompProfile?.type]).toEqual([where, 'RuntimeDefault']);
      // Whatever a container mounts exists as a volume of its pod.
      const volumes = new Set((podSpec.volumes ?? []).map((v: { name: string }) => v.name));
      for (const mount of container.volumeMounts ?? []) expect([where, mount.name, volumes.has(mount.name)]).toEqual([where, mount.name, true]);
    }
  });

  test('each service: its port, /healthz for liveness and startup, /readyz for readiness, a preStop inside the termination grace', () => {
    for (const { workload, podSpec, container } of ours().filter(({ workload }) => workload.kind === 'Deployment')) {
      const where = container.name;
      const port = ENV_SCHEMAS[container.name]!.defaultPort;
      expect([where, container.ports]).toEqual([where, [{ name: 'http', containerPort: port }]]);
      expect([where, containerEnv(docs(), container).get('PORT')]).toEqual([where, { from: 'literal', value: String(port) }]);
      for (const probe of ['startupProbe', 'livenessProbe']) expect([where, probe, container[probe].httpGet]).toEqual([where, probe, { path: '/healthz', port: 'http' }]);
      expect([where, container.readinessProbe.httpGet]).toEqual([where, { path: '/readyz', port: 'http' }]);
      // docs/operations.md: /healthz turns red after WATCHDOG_TIMEOUT_MS; give liveness room to
      // ride out a short Redis failover (period ≥ 10 s, three misses).
      expect([where, container.livenessProbe.periodSeconds >= 10, container.livenessProbe.failureThreshold >= 3]).toEqual([where, true, true]);
      const sleep = container.lifecycle.preStop.exec.command;
      expect([where, sleep[0]]).toEqual([where, 'sleep']);
      const grace = podSpec.terminationGracePeriodSeconds;
      expect([where, grace >= Number(sleep[1]) + GRACE_S, grace <= Number(sleep[1]) + GRACE_S + 10]).toEqual([where, true, true]);
      // Services, PodDisruptionBudgets and the ServiceMonitor find the pods.
      const labels = workload.spec.template.metadata.labels;
      const service = find(docs(), 'Service', workload.metadata.name);
      expect(Object.entries(service.spec.selector).every(([k, v]) => labels[k] === v)).toBe(true);
      expect(service.spec.ports).toEqual([{ name: 'http', port, targetPort: 'http' }]);
      expect(service.metadata.labels?.['app.kubernetes.io/part-of']).toBe('agentos-ssot');
      const pdb = find(docs(), 'PodDisruptionBudget', workload.metadata.name);
      expect(Object.entries(pdb.spec.selector.matchLabels).every(([k, v]) => labels[k] === v)).toBe(true);
    }
    const monitor = find(docs(), 'ServiceMonitor', 'agentos-ssot');
    expect(monitor.spec).toMatchObject({ jobLabel: 'app.kubernetes.io/name', selector: { matchLabels: { 'app.kubernetes.io/part-of': 'agentos-ssot' } }, endpoints: [{ port: 'http', path: '/metrics' }] });
  });

  test('autoscaled Deployments leave the count to their autoscaler; the dispatcher scales on its own group’s lag of the event stream', () => {
    for (const name of ['api', 'realtime-gateway', 'dispatcher']) expect([name, find(docs(), 'Deployment', name).spec.replicas]).toEqual([name, undefined]);
    for (const name of ['api', 'realtime-gateway']) expect(find(docs(), 'HorizontalPodAutoscaler', name).spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name });
    const scaled = find(docs(), 'ScaledObject', 'dispatcher');
    const common = docs().find((d) => d.kind === 'ConfigMap' && d.metadata.name.startsWith('ssot-common-'))!;
    expect(scaled.spec.scaleTargetRef).toEqual({ name: 'dispatcher' });
    expect(scaled.spec.triggers).toHaveLength(1);
    expect(scaled.spec.triggers[0]).toMatchObject({
      type: 'redis-streams',
      metadata: { stream: redisKeys(common.data.SSOT_NAMESPACE ?? '').events, consumerGroup: DISPATCHER_GROUP, lagCount: '5000' },
      authenticationRef: { name: 'ssot-redis' },
    });
    expect(find(docs(), 'TriggerAuthentication', 'ssot-redis').spec.secretTargetRef).toEqual([{ parameter: 'password', name: 'ssot-redis', key: 'password' }]);
  });

  test('settings read by several services are written once', () => {
    // Each shared ConfigMap is read by exactly the services whose schema declares its variables.
    const readers = (prefix: string) =>
      ours()
        .filter(({ container }) => (container.envFrom ?? []).some((s: { configMapRef: { name: string } }) => s.configMapRef.name.startsWith(`${prefix}-`)))
        .map(({ container }) => container.name)
        .sort();
    const expected = (...variables: string[]) =>
      ours()
        .map(({ container }) => container.name)
        .filter((name) => name !== 'migrate' && variables.every((v) => ENV_SCHEMAS[name]!.names.has(v)))
        .sort();
    expect(readers('ssot-snapshot')).toEqual(expected('WARM_INTERVAL_MS', 'SNAPSHOT_TTL_S'));
    expect(readers('ssot-event-stream')).toEqual(expected('EVENT_STREAM_MAXLEN'));
    expect(readers('ssot-heartbeats')).toEqual(expected('HEARTBEAT_TTL_S'));
    expect(readers('ssot-auth-settings')).toEqual(expected('AUTH_JWKS_URL'));
  });

  test('network policies: deny by default; PostgreSQL only for its users; Redis for every service; ingress only from the controller, the platform side and Prometheus', () => {
    const policies = docs().filter((doc) => doc.kind === 'NetworkPolicy');
    const deny = find(policies, 'NetworkPolicy', 'ssot-default-deny');
    expect(deny.spec).toEqual({ podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'agentos-ssot' } }, policyTypes: ['Ingress', 'Egress'] });
    // Every pod is under the default deny.
    for (const { workload } of containers(docs())) expect([workload.metadata.name, workload.spec.template.metadata.labels['app.kubernetes.io/part-of']]).toEqual([workload.metadata.name, 'agentos-ssot']);
    const selected = (policy: Doc) => policy.spec.podSelector.matchExpressions?.[0]?.values ?? [policy.spec.podSelector.matchLabels['app.kubernetes.io/name']];
    const egressPorts = (policy: Doc) => policy.spec.egress.flatMap((rule: { ports: { port: number }[] }) => rule.ports.map((p) => p.port));
    const postgres = find(policies, 'NetworkPolicy', 'ssot-postgres-egress');
    expect([...selected(postgres)].sort()).toEqual(['api', 'collector', 'dispatcher', 'migrate']);
    expect(egressPorts(postgres)).toEqual([5432]);
    const redis = find(policies, 'NetworkPolicy', 'ssot-redis-egress');
    for (const name of [...CORE, ...COMPONENTS]) expect(selected(redis)).toContain(name);
    expect(selected(redis)).not.toContain('migrate');
    // No other policy opens PostgreSQL's port to anyone.
    for (const policy of policies.filter((p) => p.spec.egress && p.metadata.name !== 'ssot-postgres-egress')) expect([policy.metadata.name, egressPorts(policy).includes(5432)]).toEqual([policy.metadata.name, false]);
    const ingressFrom = (name: string) => find(policies, 'NetworkPolicy', name).spec.ingress[0].from;
    expect(ingressFrom('ssot-api-ingress')[0].namespaceSelector.matchLabels).toEqual({ 'kubernetes.io/metadata.name': 'ingress-nginx' });
    expect(ingressFrom('ssot-api-ingress')[1].podSelector.matchExpressions[0].values).toEqual(COMPONENTS);
    expect(ingressFrom('ssot-gateway-ingress')).toHaveLength(1);
    expect(ingressFrom('ssot-metrics-ingress')[0].namespaceSelector.matchLabels).toEqual({ 'kubernetes.io/metadata.name': 'monitoring' });
    // The placeholder address of the base never survives an overlay.
    expect(JSON.stringify(policies)).not.toContain('192.0.2.0/24');
  });

  test('the ingress: one host, the api at /, the gateway at /socket.io with WebSocket timeouts and cookie affinity (long-polling is on)', () => {
    const api = find(docs(), 'Ingress', 'api');
    const gateway = find(docs(), 'Ingress', 'realtime-gateway');
    expect(api.spec.rules[0].http.paths).toEqual([{ path: '/', pathType: 'Prefix', backend: { service: { name: 'api', port: { name: 'http' } } } }]);
    expect(gateway.spec.rules[0].http.paths).toEqual([{ path: '/socket.io', pathType: 'Prefix', backend: { service: { name: 'realtime-gateway', port: { name: 'http' } } } }]);
    expect(gateway.spec.rules[0].host).toBe(api.spec.rules[0].host);
    expect(readFileSync(join(ROOT, 'services/realtime-gateway/src/gateway.ts'), 'utf8')).toMatch(/transports: \['websocket', 'polling'\]/);
    expect(gateway.metadata.annotations).toMatchObject({ 'nginx.ingress.kubernetes.io/affinity': 'cookie', 'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600' });
    expect(api.metadata.annotations?.['nginx.ingress.kubernetes.io/affinity']).toBeUndefined();
  });

  test('the migration is a Job running the repository’s runner against DATABASE_URL', () => {
    const job = find(docs(), 'Job', 'ssot-migrate');
    const [container] = job.spec.template.spec.containers;
    expect(container.name).toBe('migrate');
    expect(container.command).toBeUndefined(); // the image's CMD: node packages/db/dist/cli/migrate.js
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    expect(containerEnv(docs(), container).get('DATABASE_URL')).toEqual({ from: 'secret', secret: 'ssot-database', key: 'url', optional: false });
  });

  test('alerts and the Grafana dashboard ship with the services', () => {
    expect(find(docs(), 'PrometheusRule', 'agentos-ssot').spec.groups[0].rules.length).toBeGreaterThan(10);
    const dashboard = find(docs(), 'ConfigMap', 'ssot-grafana-dashboard');
    expect(dashboard.metadata.labels?.grafana_dashboard).toBe('1');
    expect(JSON.parse(dashboard.data['grafana-dashboard.json']).uid).toBe('agentos-ssot');
  });
});

describe('what each overlay sets', () => {
  const namespaced = (docs: Doc[]) => docs.filter((doc) => doc.kind !== 'Namespace');

  test('dev: its namespace, local images, one replica each, debug logs, in-cluster Redis and PostgreSQL, the simulator, plain HTTP', () => {
    const docs = rendered.dev!;
    expect(new Set(namespaced(docs).map((doc) => doc.metadata.namespace))).toEqual(new Set(['agentos-ssot-dev']));
    expect(find(docs, 'Namespace', 'agentos-ssot-dev').metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const images = Object.fromEntries(containers(docs).map(({ container }) => [container.name, container.image]));
    expect(images).toEqual({
      api: 'agentos-ssot/api:dev',
      'realtime-gateway': 'agentos-ssot/realtime-gateway:dev',
      collector: 'agentos-ssot/collector:dev',
      'cache-warmer': 'agentos-ssot/cache-warmer:dev',
      dispatcher: 'agentos-ssot/dispatcher:dev',
      simulator: 'agentos-ssot/simulator:dev',
      migrate: 'agentos-ssot/migrate:dev',
      redis: 'redis:7.4.2-alpine',
      postgres: 'postgres:15.10-alpine',
    });
    for (const name of ['collector', 'cache-warmer', 'simulator']) expect([name, find(docs, 'Deployment', name).spec.replicas]).toEqual([name, 1]);
    for (const name of ['api', 'realtime-gateway']) expect(find(docs, 'HorizontalPodAutoscaler', name).spec).toMatchObject({ minReplicas: 1, maxReplicas: 2 });
    expect(find(docs, 'ScaledObject', 'dispatcher').spec).toMatchObject({ minReplicaCount: 1, maxReplicaCount: 2, triggers: [{ metadata: { address: 'redis:6379' } }] });
    expect(docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name.startsWith('ssot-common-'))!.data.LOG_LEVEL).toBe('debug');
    expect(docs.filter((d) => d.kind === 'StatefulSet').map((d) => d.metadata.name).sort()).toEqual(['postgres', 'redis']);
    expect(find(docs, 'NetworkPolicy', 'ssot-redis-egress').spec.egress[0].to).toEqual([{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'redis' } } }]);
    expect(find(docs, 'NetworkPolicy', 'ssot-postgres-egress').spec.egress[0].to).toEqual([{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'postgres' } } }]);
    // KEDA's operator reads the stream's lag from the in-cluster Redis.
    expect(find(docs, 'NetworkPolicy', 'dev-redis-ingress').spec.ingress[0].from[1].namespaceSelector.matchLabels).toEqual({ 'kubernetes.io/metadata.name': 'keda' });
    for (const name of ['api', 'realtime-gateway']) {
      const ingress = find(docs, 'Ingress', name);
      expect([name, ingress.spec.rules[0].host, ingress.spec.tls]).toEqual([name, 'ssot.localhost', undefined]);
    }
    // dev verifies tokens with the HS256 secret create-secrets.sh makes.
    const api = containers(docs).find(({ container }) => container.name === 'api')!.container;
    expect(containerEnv(docs, api).get('AUTH_JWT_SECRET')).toMatchObject({ from: 'secret', secret: 'ssot-auth' });
  });

  test('production: its namespace, registry images at a version, two of each at least, bigger pods, JWKS auth, TLS, managed Redis and PostgreSQL', () => {
    const docs = rendered.production!;
    expect(new Set(namespaced(docs).map((doc) => doc.metadata.namespace))).toEqual(new Set(['agentos-ssot']));
    const images = Object.fromEntries(containers(docs).map(({ container }) => [container.name, container.image]));
    expect(images).toEqual(Object.fromEntries([...CORE, 'migrate'].map((name) => [name, `registry.example.com/agentos-ssot/${name}:0.1.0`])));
    for (const name of ['collector', 'cache-warmer']) expect([name, find(docs, 'Deployment', name).spec.replicas]).toEqual([name, 2]);
    expect(find(docs, 'HorizontalPodAutoscaler', 'api').spec).toMatchObject({ minReplicas: 3, maxReplicas: 20 });
    expect(find(docs, 'HorizontalPodAutoscaler', 'realtime-gateway').spec).toMatchObject({ minReplicas: 3, maxReplicas: 12 });
    expect(find(docs, 'ScaledObject', 'dispatcher').spec).toMatchObject({ minReplicaCount: 2, maxReplicaCount: 10, triggers: [{ metadata: { address: 'redis.example.internal:6380', enableTLS: 'true' } }] });
    const resources = (name: string) => containers(docs).find(({ container }) => container.name === name)!.container.resources;
    for (const name of ['api', 'realtime-gateway', 'collector', 'dispatcher']) expect([name, resources(name).requests.cpu]).toEqual([name, '500m']);
    expect(docs.filter((d) => d.kind === 'StatefulSet')).toEqual([]);
    for (const name of ['ssot-redis-egress', 'ssot-postgres-egress']) expect(find(docs, 'NetworkPolicy', name).spec.egress[0].to).toEqual([{ ipBlock: { cidr: '10.20.0.0/16' } }]);
    for (const name of ['api', 'realtime-gateway']) {
      const { container } = containers(docs).find((c: Container) => c.container.name === name)!;
      const env = containerEnv(docs, container);
      expect([name, env.has('AUTH_JWT_SECRET'), env.get('AUTH_JWKS_URL')]).toEqual([name, false, expect.objectContaining({ value: 'https://idp.example.com/.well-known/jwks.json' })]);
      const ingress = find(docs, 'Ingress', name);
      expect([name, ingress.spec.rules[0].host, ingress.spec.tls]).toEqual([name, 'ssot.example.com', [{ hosts: ['ssot.example.com'], secretName: 'ssot-tls' }]]);
    }
    for (const kind of ['ServiceMonitor', 'PrometheusRule']) expect(find(docs, kind, 'agentos-ssot').metadata.labels?.release).toBe('kube-prometheus-stack');
  });

  test('production with the components: the simulator and both bridges posting to the in-cluster api, each with its platform’s Secret', () => {
    const docs = rendered['production+components']!;
    for (const name of COMPONENTS) {
      const { container } = containers(docs).find((c) => c.container.name === name)!;
      const env = containerEnv(docs, container);
      expect([name, env.get('INGEST_URL')]).toEqual([name, { from: 'literal', value: 'http://api:3000' }]);
      expect([name, env.get('INGEST_TOKEN')]).toEqual([name, { from: 'secret', secret: 'ssot-ingest-client', key: 'token', optional: false }]);
      expect(find(docs, 'NetworkPolicy', `ssot-${name}-egress`).spec.egress[0]).toEqual({ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'api' } } }], ports: [{ protocol: 'TCP', port: 3000 }] });
    }
  });
});

test('dev: create-secrets.sh makes every Secret key the overlay reads, with values the services start with', () => {
  const docs = rendered.dev!;
  const out = execFileSync('sh', [join(ROOT, 'k8s/overlays/dev/create-secrets.sh'), '--dry-run'], { encoding: 'utf8', timeout: 30_000 });
  const secrets = new Map<string, Record<string, string>>();
  for (const doc of parseAllDocuments(out).map((d) => d.toJS()).filter(Boolean)) {
    expect([doc.kind, doc.metadata.namespace]).toEqual(['Secret', 'agentos-ssot-dev']);
    secrets.set(doc.metadata.name, Object.fromEntries(Object.entries(doc.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()])));
  }
  for (const { container } of containers(docs)) {
    const values: Record<string, string> = {};
    for (const [name, source] of containerEnv(docs, container)) {
      if (source.from !== 'secret') {
        values[name] = source.value;
        continue;
      }
      const value = secrets.get(source.secret)?.[source.key];
      if (value === undefined) {
        expect([container.name, name, source.optional]).toEqual([container.name, name, true]);
        continue;
      }
      values[name] = value;
    }
    if (container.name in ENV_SCHEMAS) expect(() => ENV_SCHEMAS[container.name]!.load(values)).not.toThrow();
  }
  // One password for the in-cluster PostgreSQL and DATABASE_URL; one token on both sides of ingest.
  expect(secrets.get('ssot-database')!.url).toBe(`postgresql://ssot:${secrets.get('ssot-dev-postgres')!.password}@postgres:5432/ssot`);
  expect(secrets.get('ssot-ingest')!.tokens).toBe(secrets.get('ssot-ingest-client')!.token);
  for (const ref of find(docs, 'TriggerAuthentication', 'ssot-redis').spec.secretTargetRef) expect(secrets.get(ref.name)![ref.key]).toBeDefined();
});

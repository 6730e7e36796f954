import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { agentFor, parseAgentMap } from '../src/agent-map';
import { brokerDb, loadBridgeConfig } from '../src/config';

const REQUIRED = { CELERY_BROKER_URL: 'redis://127.0.0.1:6379/3', INGEST_TOKEN: 'token' };

describe('celery-bridge configuration', () => {
  it('exits 1 with one message naming every bad or missing variable', async () => {
    const main = join(__dirname, '..', 'dist', 'index.js');
    const child = spawn(process.execPath, [main], {
      env: { PATH: process.env.PATH ?? '', CELERY_BROKER_URL: 'amqp://guest@rabbit//', CELERY_AGENT_MAP: 'pipeline.plan', CELERY_QUEUES: ' , ', CELERY_SENT_WAIT_MS: 'soon' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([
      'celery-bridge: invalid environment (5 problems):',
      '  CELERY_BROKER_URL: must be a redis:// or rediss:// URL',
      '  INGEST_TOKEN: is required',
      "  CELERY_AGENT_MAP: 'pipeline.plan' is not task=agent",
      '  CELERY_QUEUES: must name at least one queue',
      expect.stringMatching(/^ {2}CELERY_SENT_WAIT_MS: /),
    ]);
  });

  it('applies the defaults in one place', () => {
    const config = loadBridgeConfig(REQUIRED);
    expect(config).toMatchObject({
      PORT: 3005,
      INGEST_URL: 'http://127.0.0.1:3000',
      CELERY_QUEUES: ['celery'],
      CELERY_AGENT_MAP: {},
      CELERY_QUEUE_POLL_MS: 2000,
      CELERY_SENT_WAIT_MS: 500,
      CELERY_INSPECT_WORKERS: true,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("takes the broker's database number from its URL: it names Celery's channels", () => {
    expect(brokerDb('redis://127.0.0.1:6379/3')).toBe(3);
    expect(brokerDb('redis://127.0.0.1:6379')).toBe(0);
    expect(brokerDb('rediss://user:pw@host:6380/0')).toBe(0);
    expect(() => loadBridgeConfig({ ...REQUIRED, CELERY_BROKER_URL: 'redis://host/db3' })).toThrow(/CELERY_BROKER_URL: the path must be a database number/);
  });

  it('reads the agent map as JSON or task=agent pairs, the exact name before the longest prefix', () => {
    const map = parseAgentMap('pipeline.*=reviewer, pipeline.plan=planner,pipeline.plan.*=extractor');
    expect(typeof map).toBe('object');
    const agents = map as Exclude<typeof map, string>;
    expect(agentFor(agents, 'pipeline.plan')).toBe('planner');
    expect(agentFor(agents, 'pipeline.plan.deep')).toBe('extractor');
    expect(agentFor(agents, 'pipeline.other')).toBe('reviewer');
    expect(agentFor(agents, 'reports.weekly')).toBeUndefined();
    expect(parseAgentMap('{"a": "intake"}')).toEqual({ a: 'intake' });
    expect(parseAgentMap('{"a": 3}')).toBe("the agent of 'a' must be a name of 1-200 characters");
    expect(parseAgentMap('[1]')).toBe('must be a JSON object of task name → agent');
    expect(parseAgentMap('{oops')).toBe('not valid JSON');
  });
});

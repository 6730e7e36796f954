import { collectDefaultMetrics } from 'prom-client';
import { runService } from '@agentos/runtime';
import { loadSimulatorConfig, USAGE } from './config';
import type { RunSummary } from './driver';
import { SERVICE_NAME, startSimulatorService } from './service';

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

runService(SERVICE_NAME, async () => {
  const config = loadSimulatorConfig(process.env, argv);
  const service = await startSimulatorService(config, { listen: true });
  collectDefaultMetrics({ register: service.registry });
  let stopped: Promise<unknown> | undefined;
  const stop = () => (stopped ??= service.stop().then((summary) => process.stdout.write(`${describe(summary)}\n`)));
  // With --duration the run ends by itself: the summary, then out.
  void service.finished.then(async () => {
    await stop();
    process.exit(0);
  });
  return { logger: service.logger, closers: [stop] };
});

function describe(summary: RunSummary): string {
  const n = (value: number) => value.toLocaleString('en-US');
  const refused = Object.entries(summary.refused);
  return [
    `simulator: ${n(summary.posted)} events posted in ${summary.seconds.toFixed(1)} s: ${n(summary.rate)} events/s (target ${n(summary.target)})`,
    `; ${refused.length === 0 ? 'none refused' : `refused: ${refused.map(([reason, count]) => `${n(count)} ${reason}`).join(', ')}`}`,
    summary.cleanup > 0 ? `; ${n(summary.cleanup)} more on stopping (unfinished jobs cancelled, workers offline)` : '',
  ].join('');
}

import { collectDefaultMetrics } from 'prom-client';
import { runService } from '@agentos/runtime';
import { loadBridgeConfig } from './config';
import { SERVICE_NAME, startBridgeService } from './service';

runService(SERVICE_NAME, async () => {
  const config = loadBridgeConfig();
  const service = await startBridgeService(config, { listen: true });
  // The event-loop delay histogram samples every 10 ms by default: a wake-up a hundred times a
  // second was ~40 % of the idle bridge's CPU here. Every 200 ms still shows a stalled loop.
  collectDefaultMetrics({ register: service.registry, eventLoopMonitoringPrecision: 200 });
  return { logger: service.logger, closers: [() => service.stop()] };
});

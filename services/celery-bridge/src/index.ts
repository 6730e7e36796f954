import { collectDefaultMetrics } from 'prom-client';
import { runService } from '@agentos/runtime';
import { loadBridgeConfig } from './config';
import { SERVICE_NAME, startBridgeService } from './service';

runService(SERVICE_NAME, async () => {
  const config = loadBridgeConfig();
  const service = await startBridgeService(config, { listen: true });
  collectDefaultMetrics({ register: service.registry });
  return { logger: service.logger, closers: [() => service.stop()] };
});

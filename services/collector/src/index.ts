import { collectDefaultMetrics } from 'prom-client';
import { runService } from '@agentos/runtime';
import { loadCollectorConfig } from './config';
import { SERVICE_NAME, startCollectorService } from './service';

runService(SERVICE_NAME, async () => {
  const config = loadCollectorConfig();
  const service = await startCollectorService(config, { listen: true });
  collectDefaultMetrics({ register: service.registry });
  return { logger: service.logger, closers: [() => service.stop()] };
});

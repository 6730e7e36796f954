import { collectDefaultMetrics } from 'prom-client';
import { runService } from '@agentos/runtime';
import { loadWarmerConfig } from './config';
import { SERVICE_NAME, startWarmerService } from './service';

runService(SERVICE_NAME, async () => {
  const config = loadWarmerConfig();
  const service = await startWarmerService(config, { listen: true });
  collectDefaultMetrics({ register: service.registry });
  return { logger: service.logger, closers: [() => service.stop()] };
});

import { collectDefaultMetrics } from 'prom-client';
import { runService } from '@agentos/runtime';
import { loadApiConfig } from './config';
import { SERVICE_NAME, startApiService } from './service';

runService(SERVICE_NAME, async () => {
  const config = loadApiConfig();
  const service = await startApiService(config, { listen: true });
  collectDefaultMetrics({ register: service.registry });
  return { logger: service.logger, closers: [() => service.stop()] };
});

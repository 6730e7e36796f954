import { collectDefaultMetrics } from 'prom-client';
import { runService } from '@agentos/runtime';
import { loadDispatcherConfig } from './config';
import { SERVICE_NAME, startDispatcherService } from './service';

runService(SERVICE_NAME, async () => {
  const config = loadDispatcherConfig();
  const service = await startDispatcherService(config, { listen: true });
  collectDefaultMetrics({ register: service.registry });
  return { logger: service.logger, closers: [() => service.stop()] };
});

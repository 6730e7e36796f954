import { collectDefaultMetrics } from 'prom-client';
import { runService } from '@agentos/runtime';
import { loadGatewayConfig } from './config';
import { SERVICE_NAME, startGatewayService } from './service';

runService(SERVICE_NAME, async () => {
  const config = loadGatewayConfig();
  const service = await startGatewayService(config, { listen: true });
  collectDefaultMetrics({ register: service.registry });
  return { logger: service.logger, closers: [() => service.stop()] };
});

import type { SystemControlSection } from '@agentos/contracts';
import type { SectionContext } from './context';
import { loadServices } from './services';

export async function buildSystemControl(ctx: SectionContext): Promise<SystemControlSection> {
  const services = await loadServices(ctx);
  return { services_status: services.status };
}

import type { SystemControlSection } from '@agentos/contracts';
import type { SectionContext } from './context';
import { loadServices } from './services';

export async function buildSystemControl(ctx: SectionContext): Promise<SystemControlSection> {
  const [services, health] = await Promise.all([loadServices(ctx), ctx.redis.get(ctx.keys.systemHealth)]);
  return { services_status: services.status, health_check: parseHealth(health) };
}

function parseHealth(raw: string | null): SystemControlSection['health_check'] {
  if (!raw) return null;
  try {
    const value = JSON.parse(raw) as NonNullable<SystemControlSection['health_check']>;
    return { services: value.services, redis_ms: value.redis_ms, database_ms: value.database_ms, at: value.at };
  } catch {
    return null;
  }
}

import type { AgentsWorkersSection } from '@agentos/contracts';
import { iso } from '../serialize';
import type { SectionContext } from './context';
import { loadWorkers } from './workers';

export async function buildAgentsWorkers(ctx: SectionContext): Promise<AgentsWorkersSection> {
  const [agents, activeByAgent, workers] = await Promise.all([
    ctx.prisma.agent.findMany({ orderBy: { stage: 'asc' } }),
    ctx.prisma.$queryRaw<{ agent: string; active: number }[]>`
      SELECT agent, count(*)::int AS active FROM jobs
      WHERE status = 'processing' AND agent IS NOT NULL GROUP BY agent`,
    loadWorkers(ctx),
  ]);
  const active = new Map(activeByAgent.map((row) => [row.agent, row.active]));
  const list = agents.map((agent) => {
    const activeJobs = active.get(agent.name) ?? 0;
    return {
      id: agent.id,
      name: agent.name,
      stage: agent.stage,
      description: agent.description,
      // Running work makes an idle agent active; error and disabled are operator-visible states that stay.
      status: agent.status === 'idle' && activeJobs > 0 ? ('active' as const) : agent.status,
      jobs_processed: agent.jobsProcessed,
      jobs_failed: agent.jobsFailed,
      active_jobs: activeJobs,
      avg_duration_ms: agent.avgDurationMs,
      last_active_at: iso(agent.lastActiveAt),
    };
  });
  const online = workers.filter((w) => w.status === 'online').length;
  return {
    agents: {
      status: {
        agents: list,
        total_agents: list.length,
        active_agents: list.filter((a) => a.status === 'active' || a.status === 'idle').length,
      },
    },
    workers: {
      status: workers.length === 0 ? 'empty' : online === workers.length ? 'success' : 'degraded',
      workers,
    },
  };
}

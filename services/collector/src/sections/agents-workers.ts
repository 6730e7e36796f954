import type { AgentStatus, AgentsWorkersSection } from '@agentos/contracts';
import type { SectionContext } from './context';
import { isoSql } from '@agentos/db';
import { loadWorkers } from './workers';

export async function buildAgentsWorkers(ctx: SectionContext): Promise<AgentsWorkersSection> {
  const [[row], workers] = await Promise.all([
    // One statement, already in the snapshot's shape; running work makes an idle agent active
    // (error and disabled are operator-visible states that stay).
    ctx.query<{ agents: AgentStatus[] }>(
      `SELECT coalesce(json_agg(json_build_object(
                'id', a.id, 'name', a.name, 'stage', a.stage, 'description', a.description,
                'status', CASE WHEN a.status = 'idle' AND coalesce(r.active, 0) > 0 THEN 'active' ELSE a.status::text END,
                'jobs_processed', a.jobs_processed, 'jobs_failed', a.jobs_failed, 'active_jobs', coalesce(r.active, 0),
                'avg_duration_ms', a.avg_duration_ms, 'last_active_at', ${isoSql('a.last_active_at')})
              ORDER BY a.stage), '[]') AS agents
       FROM agents a
       LEFT JOIN (SELECT agent, count(*)::int AS active FROM jobs
                  WHERE status = 'processing' AND agent IS NOT NULL GROUP BY agent) AS r ON r.agent = a.name`,
    ),
    loadWorkers(ctx),
  ]);
  const list = row!.agents;
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

import type { LogsSection } from '@agentos/contracts';
import { iso } from '../serialize';
import type { SectionContext } from './context';

const RECENT_ENTRIES = 50;
const MAX_MESSAGE = 500;

export async function buildLogs(ctx: SectionContext): Promise<LogsSection> {
  const entries = await ctx.prisma.logEntry.findMany({
    orderBy: { createdAt: 'desc' },
    take: RECENT_ENTRIES,
    select: { id: true, level: true, source: true, message: true, jobId: true, createdAt: true },
  });
  return {
    recent_entries: entries.map((entry) => ({
      id: entry.id,
      level: entry.level,
      source: entry.source,
      message: entry.message.length > MAX_MESSAGE ? `${entry.message.slice(0, MAX_MESSAGE - 1)}…` : entry.message,
      job_id: entry.jobId,
      created_at: iso(entry.createdAt)!,
    })),
  };
}

/** Task name (or `prefix*`) → pipeline agent, as `CELERY_AGENT_MAP` gives it. */
export type AgentMap = Readonly<Record<string, string>>;

/**
 * `CELERY_AGENT_MAP`: JSON (`{"pipeline.plan": "planner"}`) or `task=agent,task=agent`. Returns
 * the map, or what is wrong with the text.
 */
export function parseAgentMap(text: string): AgentMap | string {
  const trimmed = text.trim();
  if (trimmed === '') return {};
  let entries: [string, unknown][];
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      return 'not valid JSON';
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return 'must be a JSON object of task name → agent';
    entries = Object.entries(parsed);
  } else {
    entries = [];
    for (const pair of trimmed.split(',')) {
      if (pair.trim() === '') continue;
      const at = pair.indexOf('=');
      if (at < 0) return `'${pair.trim()}' is not task=agent`;
      entries.push([pair.slice(0, at).trim(), pair.slice(at + 1).trim()]);
    }
  }
  const map: Record<string, string> = Object.create(null);
  for (const [task, agent] of entries) {
    if (task === '' || task === '*') return 'a task name is empty';
    if (typeof agent !== 'string' || agent === '' || agent.length > 200) return `the agent of '${task}' must be a name of 1-200 characters`;
    map[task] = agent;
  }
  return Object.freeze(map);
}

/** The agent of a task: its exact name first, then the longest matching `prefix*`. */
export function agentFor(map: AgentMap, task: string): string | undefined {
  const exact = map[task];
  if (exact !== undefined) return exact;
  let best: string | undefined;
  let bestLength = -1;
  for (const [pattern, agent] of Object.entries(map)) {
    if (!pattern.endsWith('*')) continue;
    const prefix = pattern.slice(0, -1);
    if (prefix.length > bestLength && task.startsWith(prefix)) {
      best = agent;
      bestLength = prefix.length;
    }
  }
  return best;
}

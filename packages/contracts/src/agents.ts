/**
 * The 11 pipeline agents of AgentOS, in pipeline order. A job moves through them stage by stage;
 * the snapshot's `agents_workers.agents.status.agents` lists exactly these.
 */
export const PIPELINE_AGENTS = [
  { stage: 1, name: 'intake', description: 'Accepts a request and normalises its input' },
  { stage: 2, name: 'classifier', description: 'Decides what kind of work the request is' },
  { stage: 3, name: 'planner', description: 'Breaks the work into steps' },
  { stage: 4, name: 'retriever', description: 'Fetches the documents and data the steps need' },
  { stage: 5, name: 'extractor', description: 'Pulls structured facts out of retrieved material' },
  { stage: 6, name: 'enricher', description: 'Joins facts with reference data' },
  { stage: 7, name: 'reasoner', description: 'Works out the answer from the enriched facts' },
  { stage: 8, name: 'generator', description: 'Writes the result' },
  { stage: 9, name: 'reviewer', description: 'Checks the result against the request and policy' },
  { stage: 10, name: 'formatter', description: 'Shapes the result for its destination' },
  { stage: 11, name: 'publisher', description: 'Delivers the result and records the outcome' },
] as const;

export type PipelineAgentName = (typeof PIPELINE_AGENTS)[number]['name'];

/** The queues of the reference dataset and the development demo. */
export const REFERENCE_QUEUES = ['default', 'ingest', 'pipeline', 'reports', 'notifications'] as const;

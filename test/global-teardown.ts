// Jest global teardown: drops the databases this run created (`ssot_t_<run id>_…`) that a suite
// left behind, e.g. after a crash. The template stays for the next run.
import { dropTestDatabases, TEST_RUN_ENV } from '../packages/db/src/testing';

export default async function globalTeardown(): Promise<void> {
  const runId = process.env[TEST_RUN_ENV];
  if (!runId) return;
  try {
    const dropped = await dropTestDatabases(runId);
    if (dropped.length > 0) console.warn(`[global-teardown] dropped ${dropped.length} leftover test database(s)`);
  } catch (error) {
    console.warn(`[global-teardown] could not drop this run's test databases: ${(error as Error).message}`);
  }
}

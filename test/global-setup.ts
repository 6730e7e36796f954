// Jest global setup for the whole repository: builds (or finds) the migrated template database
// that every suite's test database is cloned from, and marks this run so teardown can find what
// it created. Variables set on process.env here reach the test workers, which start afterwards.
import { dropStaleTemplates, ensureTemplateDatabase, testAdminUrl, testRunId } from '../packages/db/src/testing';

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT']);

export default async function globalSetup(): Promise<void> {
  testRunId();
  try {
    await ensureTemplateDatabase();
    await dropStaleTemplates();
  } catch (error) {
    // Suites that need no database should still run without PostgreSQL; those that do fail on
    // their own, naming the problem, when they try to create their database.
    const code = (error as { code?: string }).code;
    const timedOut = error instanceof Error && /timeout/i.test(error.message);
    if (!(code && UNREACHABLE.has(code)) && !timedOut) throw error;
    console.warn(`\n[global-setup] PostgreSQL at ${redact(testAdminUrl())} is unreachable: database tests will fail\n`);
  }
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

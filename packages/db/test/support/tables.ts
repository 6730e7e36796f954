/** Every table schema.prisma declares, by database name, sorted: what the migrations must create. */
export const SCHEMA_TABLES = [
  'agents',
  'alert_outbox',
  'commands',
  'job_created_hours',
  'job_created_minutes',
  'job_duration_hours',
  'job_events',
  'job_finished_hours',
  'jobs',
  'log_entries',
  'notifications',
  'processed_events',
  'queues',
  'services',
  'settings',
  'workers',
];

-- The dashboard's unread notifications from one row instead of a count of every unread
-- notification. Nothing marks notifications read yet, so that count grew with every failed job
-- (notify_admin) and every build paid for it: 228 ms of PostgreSQL per dashboard build at
-- 1,000,000 of them, about a day of failures at 1,000 events/s. Statement-level triggers keep the
-- row exact in the same transaction as every write to `notifications`, as the job rollups do.

-- CreateTable
CREATE TABLE "notification_counts" (
    "id" BOOLEAN NOT NULL DEFAULT true,
    "unread" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "notification_counts_pkey" PRIMARY KEY ("id")
);

-- Hand-written below this line: SQL that schema.prisma cannot express (a check, functions and
-- triggers; the schema-agreement test compares tables, columns, indexes and enums only).

-- One row: its id can only be true.
ALTER TABLE "notification_counts" ADD CONSTRAINT "notification_counts_one_row" CHECK ("id");

-- The row's lock is taken where a statement writes notifications: in ssot_persist_events after
-- the jobs, the rollups, the agents and the workers, at the same point in every batch, so two
-- dispatchers still take their locks in one order.
CREATE FUNCTION ssot_notification_counts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  delta bigint := 0;
  n bigint;
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    SELECT count(*) INTO n FROM new_rows WHERE read_at IS NULL;
    delta := delta + n;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    SELECT count(*) INTO n FROM old_rows WHERE read_at IS NULL;
    delta := delta - n;
  END IF;
  IF delta <> 0 THEN
    UPDATE notification_counts SET unread = unread + delta WHERE id;
  END IF;
  RETURN NULL;
END;
$$;
CREATE FUNCTION ssot_notification_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE notification_counts SET unread = 0 WHERE id;
  RETURN NULL;
END;
$$;

-- The triggers and the count of what is already there in one statement, with writers locked
-- out meanwhile: no notification is counted twice or missed, even with dispatchers writing while
-- the migration is applied, whether or not the tool applying it wraps the file in a transaction.
DO $$
BEGIN
  LOCK TABLE notifications IN SHARE ROW EXCLUSIVE MODE;
  CREATE TRIGGER notifications_count_insert AFTER INSERT ON notifications
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ssot_notification_counts();
  CREATE TRIGGER notifications_count_update AFTER UPDATE ON notifications
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ssot_notification_counts();
  CREATE TRIGGER notifications_count_delete AFTER DELETE ON notifications
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ssot_notification_counts();
  CREATE TRIGGER notifications_count_truncate AFTER TRUNCATE ON notifications
    FOR EACH STATEMENT EXECUTE FUNCTION ssot_notification_counts_truncate();
  INSERT INTO notification_counts (id, unread) SELECT true, count(*) FROM notifications WHERE read_at IS NULL;
END;
$$;

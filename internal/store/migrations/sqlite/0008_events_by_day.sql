-- PostgreSQL partitions events by day in this version (see
-- postgres/0008_events_by_day.sql); SQLite keeps one table and purges by
-- deleting rows. Nothing changes here: the version numbers of both
-- dialects stay in step.
SELECT 1;

-- The publish backlog (issue 12; used with PostgreSQL only): with split roles ingest records each
-- committed batch of events here in the transaction that stores it, and
-- removes the record once the batch is on the event stream (JetStream).
-- A NATS outage then delays detection instead of failing ingest: a
-- publisher sends what is left, oldest first, once the stream is back
-- (its message ids make a batch published twice arrive once).
-- ids: JSON array of the batch's event ids in order; meta: the committer's
-- own (detection times of events dated ahead of the clock); created: unix
-- microseconds.
CREATE TABLE event_publish (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  created BIGINT  NOT NULL,
  events  INTEGER NOT NULL,
  ids     TEXT    NOT NULL,
  meta    TEXT    NOT NULL DEFAULT ''
);

-- Events partitioned by day of event time (issue 12): retention drops whole
-- partitions instead of deleting rows, and each partition carries the
-- indexes the dashboard's event queries use (tenant+time, time, user+time,
-- address+time) plus one on id (paging cursor).
--
-- The existing unpartitioned table is converted in place, inside this
-- migration's transaction (all or nothing): it becomes the DEFAULT
-- partition, so no row is copied. Its rows leave it as partitions for
-- their days are created (the store moves a day's rows into the new
-- partition before attaching it) or as retention deletes them. Building
-- the id index on an existing table is the only cost proportional to its
-- size. Daily partitions are created ahead by the store (at open and at
-- every retention pass), named events_pYYYYMMDD, bounds in microseconds.
ALTER TABLE events RENAME TO events_default;
ALTER TABLE events_default DROP CONSTRAINT events_pkey;
ALTER INDEX events_tenant_ts RENAME TO events_default_tenant_ts;
ALTER INDEX events_ts RENAME TO events_default_ts;
ALTER INDEX events_user_ts RENAME TO events_default_user_ts;
ALTER INDEX events_ip_ts RENAME TO events_default_ip_ts;
CREATE TABLE events (
  id          BIGINT  NOT NULL DEFAULT nextval('events_id_seq'),
  ts          BIGINT  NOT NULL,
  received    BIGINT  NOT NULL,
  tenant      TEXT    NOT NULL DEFAULT '',
  dataset     TEXT    NOT NULL DEFAULT '',
  category    TEXT    NOT NULL DEFAULT '',
  action      TEXT    NOT NULL DEFAULT '',
  outcome     TEXT    NOT NULL DEFAULT '',
  reason      TEXT    NOT NULL DEFAULT '',
  code        TEXT    NOT NULL DEFAULT '',
  cnt         INTEGER NOT NULL DEFAULT 0,
  user_name   TEXT    NOT NULL DEFAULT '',
  user_domain TEXT    NOT NULL DEFAULT '',
  source_ip   TEXT    NOT NULL DEFAULT '',
  source_port INTEGER NOT NULL DEFAULT 0,
  host        TEXT    NOT NULL DEFAULT '',
  file        TEXT    NOT NULL DEFAULT '',
  line        BIGINT  NOT NULL DEFAULT 0,
  off         BIGINT  NOT NULL DEFAULT 0,
  fields      TEXT    NOT NULL DEFAULT '',
  raw         TEXT    NOT NULL DEFAULT ''
) PARTITION BY RANGE (ts);
ALTER SEQUENCE events_id_seq OWNED BY events.id;
ALTER TABLE events_default ALTER COLUMN id DROP DEFAULT;
ALTER TABLE events ATTACH PARTITION events_default DEFAULT;
-- Partitioned indexes: the default partition's existing indexes are
-- attached (same columns), not rebuilt; the id index is new.
CREATE INDEX events_tenant_ts ON events (tenant, ts, id);
CREATE INDEX events_ts ON events (ts, id);
CREATE INDEX events_user_ts ON events (user_name, ts);
CREATE INDEX events_ip_ts ON events (source_ip, ts);
CREATE INDEX events_id ON events (id);

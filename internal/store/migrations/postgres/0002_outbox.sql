-- Outbox of outbound deliveries that must happen exactly once per change:
-- PSA tickets (one row per target and finding/case key). body is the
-- desired state; version counts its changes, sent is the version last
-- delivered, remote the id the other system gave it.
CREATE TABLE outbox (
  target     TEXT   NOT NULL,
  item_key   TEXT   NOT NULL,
  kind       TEXT   NOT NULL DEFAULT '',
  tenant     TEXT   NOT NULL DEFAULT '',
  body       TEXT   NOT NULL DEFAULT '',
  version    BIGINT NOT NULL DEFAULT 1,
  sent       BIGINT NOT NULL DEFAULT 0,
  remote     TEXT   NOT NULL DEFAULT '',
  attempts   BIGINT NOT NULL DEFAULT 0,
  last_error TEXT   NOT NULL DEFAULT '',
  next_at    BIGINT NOT NULL DEFAULT 0,
  created    BIGINT NOT NULL,
  updated    BIGINT NOT NULL,
  PRIMARY KEY (target, item_key)
);

CREATE INDEX outbox_due ON outbox (target, next_at);
CREATE INDEX outbox_tenant ON outbox (tenant);

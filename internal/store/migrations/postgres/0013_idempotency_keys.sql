-- Idempotency-Key on POST /api/v1/events (issue 12;
-- draft-ietf-httpapi-idempotency-key-header): the first answer to a key,
-- per caller (owner: the API token's id or the session's user), kept for
-- 24 hours so that a client retrying after a lost answer stores nothing
-- twice, whichever replica it reaches. body_hash: SHA-256 (hex) of the
-- request's query and body; status 0: the first request is still being
-- answered; response: the JSON answer; created: unix microseconds.
CREATE TABLE idempotency_keys (
  owner     TEXT    NOT NULL,
  key       TEXT    NOT NULL,
  body_hash TEXT    NOT NULL,
  status    INTEGER NOT NULL,
  response  TEXT    NOT NULL DEFAULT '',
  created   BIGINT  NOT NULL,
  PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created);

-- Outbox claims (issue 12): a deliverer claims due rows for a lease
-- before sending them, so two deliverers (replicas, a leader hand-over)
-- never send one row at once, and a deliverer that dies between claim and
-- acknowledgement leaves its rows to another once the lease has passed.
-- claimed_until is unix microseconds (0: not claimed).
ALTER TABLE outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;

-- Idempotency-Key: how many events of the key's body are committed
-- (batches of 5,000). A retry with the same key and body after a 503 that
-- came after some batches, or after an abandoned claim, resumes after them
-- instead of storing them twice.
ALTER TABLE idempotency_keys ADD COLUMN committed BIGINT NOT NULL DEFAULT 0;

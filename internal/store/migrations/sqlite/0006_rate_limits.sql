-- Fixed-window counters shared by every process (sign-in rate limits when
-- firebreak runs as several processes): one row per key, the window's start
-- in microseconds and the attempts counted in it.
CREATE TABLE rate_limits (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    n            BIGINT NOT NULL
);
CREATE INDEX rate_limits_window ON rate_limits (window_start);

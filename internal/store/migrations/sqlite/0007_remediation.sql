-- The remediation queue (issue 15): the steps of the blast plan ("fix
-- first"), one row per step key, with who owns it, by when and its state.
-- A new assessment refreshes the plan's columns and keeps owner, due and
-- state; a step no longer in the plan is done (its path was cut).
CREATE TABLE remediation (
    item_key  TEXT PRIMARY KEY,
    rank      BIGINT NOT NULL,
    action    TEXT NOT NULL,
    tenants   TEXT NOT NULL,  -- JSON array of tenant ids made safer
    gain      BIGINT NOT NULL, -- exposure removed (tenant reaches above the limit)
    proof     TEXT NOT NULL,
    controls  TEXT NOT NULL,  -- JSON array of control ids it fixes
    owner     TEXT NOT NULL DEFAULT '',
    due       BIGINT NOT NULL DEFAULT 0,
    state     TEXT NOT NULL,
    run_id    BIGINT NOT NULL,
    done_at   BIGINT NOT NULL DEFAULT 0,
    created   BIGINT NOT NULL,
    updated   BIGINT NOT NULL
);
CREATE INDEX remediation_rank ON remediation (state, rank);

-- A password set by someone other than its user (the bootstrap owner's
-- printed one, an administrator's create or reset) must be changed at the
-- next sign-in before anything else.
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;

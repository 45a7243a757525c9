-- Signed posture attestations (issue 17): one DSSE envelope per tenant and
-- assessment run, kept as history. envelope is the JSON a customer verifies.
CREATE TABLE postures (
  id       BIGSERIAL PRIMARY KEY,
  tenant   TEXT   NOT NULL,
  run_id   BIGINT NOT NULL DEFAULT 0,
  key_id   TEXT   NOT NULL,
  issued   BIGINT NOT NULL,
  expires  BIGINT NOT NULL,
  created  BIGINT NOT NULL,
  envelope TEXT   NOT NULL
);
CREATE INDEX postures_tenant ON postures (tenant, id);

-- Claims recorded in the dashboard: attestations of controls (by a tenant
-- attester for the customer's side, by the MSP for its own), exceptions, and
-- reviewed contract clauses. They feed the next assessment with the estate
-- files (see docs/attest.md for the precedence). Rows are never updated
-- except to revoke them.
CREATE TABLE claims (
  id              BIGSERIAL PRIMARY KEY,
  kind            TEXT   NOT NULL,
  tenant          TEXT   NOT NULL,
  control         TEXT   NOT NULL DEFAULT '',
  body            TEXT   NOT NULL DEFAULT '',
  by_user         TEXT   NOT NULL,
  owner           TEXT   NOT NULL DEFAULT '',
  created         BIGINT NOT NULL,
  expires         BIGINT NOT NULL DEFAULT 0,
  evidence_name   TEXT   NOT NULL DEFAULT '',
  evidence_sha256 TEXT   NOT NULL DEFAULT '',
  evidence        BYTEA,
  revoked         BIGINT NOT NULL DEFAULT 0,
  revoked_by      TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX claims_tenant ON claims (tenant, kind);

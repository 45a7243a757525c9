-- Facts about how a database is deployed that must outlive the processes
-- (issue 12). "split" is written when a process with split roles (a bus)
-- first claims the database: a process without a bus then refuses to start
-- on it even while no split process runs (it would detect apart from the
-- events the split deployment's stream holds), until it is started with
-- --convert-to-single-process. value: what wrote it; at: unix microseconds.
CREATE TABLE deployment_marks (
  name  TEXT   PRIMARY KEY,
  value TEXT   NOT NULL,
  at    BIGINT NOT NULL
);

-- The CISA KEV catalog version an assessment run judged by (Report.KEV,
-- "" when none), so a report downloaded from the dashboard names the same
-- catalog as the CLI's report of the same assessment (issue 15). Runs
-- stored before this have ''.
ALTER TABLE runs ADD COLUMN kev TEXT NOT NULL DEFAULT '';

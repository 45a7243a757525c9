-- Dashboard listings (issue 15): the open cases, the overview and the
-- navigation badge list incidents of one status newest first
-- (ORDER BY last_ts DESC, id). With this index the database reads them in
-- that order instead of sorting every row of the status, details included.
CREATE INDEX incidents_status_last ON incidents (status, last_ts DESC, id);

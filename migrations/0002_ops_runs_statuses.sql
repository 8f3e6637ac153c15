-- Operational runs can also end CANCELLED (a rehearsal cancelled from the Temporal UI) or
-- COMPLETED_WITH_FAILURES (a DLQ replay that left rows still failing).
ALTER TABLE bo.ops_runs DROP CONSTRAINT ops_runs_status_check;
ALTER TABLE bo.ops_runs ADD CONSTRAINT ops_runs_status_check
  CHECK (status IN ('RUNNING', 'GO', 'NO_GO', 'PASSED', 'FAILED', 'COMPLETED', 'COMPLETED_WITH_FAILURES', 'CANCELLED'));

-- The audit row records who as `sub` (SPEC §4.3): rename bo.admin_audit_logs.actor_sub -> sub.
-- The index admin_audit_logs_actor_idx (sub, occurred_at) follows the column; its name does not mention it.
ALTER TABLE bo.admin_audit_logs RENAME COLUMN actor_sub TO sub;

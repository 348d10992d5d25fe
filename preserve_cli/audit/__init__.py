"""`preserve audit`: a plan in force against the traffic that came (audit.py), read from schedule.yaml."""

from preserve_cli.audit.audit import AuditResult, Thresholds, WindowAudit, audit_plan
from preserve_cli.audit.schedule import PlannedSchedule, read_schedule

# Exit code when an audit threshold is crossed (documented in `preserve --help`): for cron alerting.
EXIT_AUDIT_THRESHOLD = 4

__all__ = ["EXIT_AUDIT_THRESHOLD", "AuditResult", "PlannedSchedule", "Thresholds", "WindowAudit", "audit_plan",
           "read_schedule"]

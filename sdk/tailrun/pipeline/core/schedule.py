"""Azure ML's `azureml.pipeline.core.schedule`: importable, not supported (tailrun has no scheduler)."""
from __future__ import annotations

from ..errors import unsupported_class

__all__ = ["Schedule", "ScheduleRecurrence", "TimeZone"]

_WHY = "tailrun has no scheduler; run the submitting script from cron or a systemd timer"
Schedule = unsupported_class("Schedule", _WHY, __name__)
ScheduleRecurrence = unsupported_class("ScheduleRecurrence", _WHY, __name__)
TimeZone = unsupported_class("TimeZone", _WHY, __name__)

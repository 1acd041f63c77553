"""RepeatedErrorLog: an error repeated many times is one full line, then one count per interval
(written by its timer even when the errors stop), and in full again after a quiet interval."""
from __future__ import annotations

import logging
import threading

from tailrun_service.repeated_log import RepeatedErrorLog


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self.changed:
            self.records.append(record)
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 20) -> list[logging.LogRecord]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.records) >= count, timeout), self.records
            return list(self.records)


def _logger(name: str) -> tuple[logging.Logger, _Lines]:
    logger = logging.getLogger(f"test_repeated_log.{name}")
    logger.propagate = False
    lines = _Lines()
    logger.addHandler(lines)
    return logger, lines


def test_repeats_become_one_count_written_by_the_timer() -> None:
    logger, lines = _logger("timer")
    errors = RepeatedErrorLog(logger, interval=0.3)
    for batch in range(50):   # SQLAlchemy-style messages: the same first line, other details after
        try:
            raise OSError(f"database or disk is full\n[parameters: batch {batch}]")
        except OSError as exc:
            errors.report("Ingest", exc)
    first, summary = lines.wait_for(2)
    assert first.exc_info and "database or disk is full" in first.getMessage()
    assert summary.getMessage() == ("Ingest failed: OSError: database or disk is full "
                                    f"(repeated 49 times in the last {summary.getMessage().split()[-2]} s)")
    assert not summary.exc_info
    errors.close()
    assert len(lines.records) == 2   # nothing left to write


def test_after_a_quiet_interval_the_error_is_logged_in_full_again() -> None:
    logger, lines = _logger("quiet")
    now = [100.0]
    errors = RepeatedErrorLog(logger, interval=30, clock=lambda: now[0])
    errors.report("GetRun", RuntimeError("boom"))
    now[0] += 31   # longer than the interval, with no occurrence in it
    errors.report("GetRun", RuntimeError("boom"))
    errors.report("ListRuns", RuntimeError("boom"))   # another call: another kind
    errors.close()
    messages = [r.getMessage() for r in lines.records]
    assert messages == ["GetRun failed: RuntimeError: boom"] * 2 + ["ListRuns failed: RuntimeError: boom"]

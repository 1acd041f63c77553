"""System metrics of a submitted run, sampled by its supervisor: the runner owns the script's
process group, so it samples the whole group (the script, DataLoader workers, ranks started as
children; each process once) with `tailrun._system_metrics`, the same names the SDK records.
The script's own SDK does not sample its submitted run (`tailrun._run_system`), so nothing is
recorded twice.

Settings: the run's environment variables (RunConfiguration.environment_variables) first, then
the service's own environment: TAILRUN_SYSTEM_METRICS=0 turns it off,
TAILRUN_SYSTEM_METRICS_INTERVAL sets the seconds between samples. Samples begin one interval after
the start (no sample once the group is gone, so a run shorter than the interval has none). NVML
is opened once per service process.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from tailrun import _system_metrics
from tailrun._nvml import Gpus
from tailrun._procfs import available
from tailrun.v1 import tailrun_pb2 as pb

from ..errors import NotFound

log = logging.getLogger("tailrun_service.runner")

_gpus_lock = threading.Lock()
_gpus: list[Gpus | None] = []   # [the service's GPUs] once opened


def _service_gpus() -> Gpus | None:
    with _gpus_lock:
        if not _gpus:
            _gpus.append(Gpus.open(lambda message: log.warning("%s", message)))
        return _gpus[0]


class RunSystemMetrics:
    """Call `tick()` often (the supervisor's loop); it samples when the interval has passed."""

    def __init__(self, writer: Any, store: Any, pid: int, run_vars: Mapping[str, str], adopted: bool) -> None:
        self.writer = writer
        on, self.interval, problems = _system_metrics.settings({**os.environ, **run_vars})
        for problem in problems:
            log.warning("run %s: %s", writer.run_id, problem)
        self.sampler: _system_metrics.SystemSampler | None = None
        self.index, self.next_at = 0, 0.0
        if not on or not available():
            return
        try:
            self.index = _stored_samples(store, writer.run_id) if adopted else 0
            self.sampler = _system_metrics.SystemSampler(pid, group=pid, gpus=_service_gpus())
        except Exception:   # sampling must never disturb supervising the run
            log.exception("run %s: system metrics are off", writer.run_id)
        self.next_at = time.monotonic() + self.interval

    def tick(self, now: float) -> None:
        if self.sampler is None or now < self.next_at:
            return
        self.next_at = now + self.interval
        try:
            values = self.sampler.sample()
            when = time.time()
            events = [pb.Event(metrics=pb.MetricPoints(
                run_id=self.writer.run_id, name=_system_metrics.stored_name(name),
                kind=pb.METRIC_KIND_SYSTEM, times=[when], steps=[self.index],
                columns=[pb.Column(values=[value])])) for name, value in values.items()]
            self.writer.send(events)
            self.index += 1
        except Exception:   # sampling must never disturb supervising the run
            log.exception("run %s: a system-metrics sample failed", self.writer.run_id)


def _stored_samples(store: Any, run_id: str) -> int:
    """How many samples an earlier service stored (an adopted run goes on from there)."""
    name = _system_metrics.stored_name("memory_rss_mb")
    try:
        return int(store.get_series(pb.SeriesRequest(run_id=run_id, name=name, max_points=1, tail=1)).total_points)
    except NotFound:
        return 0

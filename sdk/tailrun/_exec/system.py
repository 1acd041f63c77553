"""System metrics of a submitted run, sampled by whatever supervises it: the service's runner
(`local`) or the Slurm job bootstrap on the node. The supervisor owns the script's process group,
so it samples the whole group (the script, DataLoader workers, ranks started as children, a worker
that daemonized; each process once) with `tailrun._system_metrics`, the names the SDK records. The
script's own SDK does not sample its submitted run (`tailrun._run_system`): nothing twice.

Settings: the run's environment variables (RunConfiguration.environment_variables) first, then the
supervisor's own environment. Samples begin one interval after the start and end with the group
(a run shorter than the interval has none). NVML is opened once per supervising process.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping

from .. import _system_metrics
from .._nvml import Gpus
from .._procfs import available

log = logging.getLogger("tailrun.exec")

_gpus_lock = threading.Lock()
_gpus: list[Gpus | None] = []   # [this process's GPUs] once opened

# emit(values by stored name, sample index, unix time)
Emit = Callable[[dict[str, float], int, float], None]


def _process_gpus() -> Gpus | None:
    with _gpus_lock:
        if not _gpus:
            _gpus.append(Gpus.open(lambda message: log.warning("%s", message)))
        return _gpus[0]


class GroupSampler:
    """Call `tick(time.monotonic())` often (a supervisor's loop); it samples the process group
    led by `pid` when the interval has passed and hands the sample to `emit`."""

    def __init__(self, run_id: str, pid: int, run_vars: Mapping[str, str], emit: Emit, first_index: int = 0) -> None:
        self.run_id, self.emit, self.index = run_id, emit, first_index
        on, self.interval, problems = _system_metrics.settings({**os.environ, **run_vars})
        for problem in problems:
            log.warning("run %s: %s", run_id, problem)
        self.sampler: _system_metrics.SystemSampler | None = None
        self.next_at = time.monotonic() + self.interval
        if not on or not available():
            return
        try:
            self.sampler = _system_metrics.SystemSampler(pid, group=pid, gpus=_process_gpus())
        except Exception:   # sampling must never disturb supervising the run
            log.exception("run %s: system metrics are off", run_id)

    def tick(self, now: float) -> None:
        if self.sampler is None or now < self.next_at:
            return
        self.next_at = now + self.interval
        try:
            values = self.sampler.sample()
            self.emit({_system_metrics.stored_name(k): v for k, v in values.items()}, self.index, time.time())
            self.index += 1
        except Exception:
            log.exception("run %s: a system-metrics sample failed", self.run_id)

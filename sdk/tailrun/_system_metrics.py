"""System metrics: what they are called, the settings, and one sample of a process tree.

Used by the SDK (`_run_system`: the process of a `start_logging` run) and by the service's runner
(the process group of a submitted run), so both record the same names the same way. Stored as
metrics of kind METRIC_KIND_SYSTEM named PREFIX + name (a user's own `cpu_percent` never collides),
one float per sample, step = sample index. 1 MB = 1,048,576 bytes throughout.

Names (rates are over the time since the previous sample):
  cpu_percent            CPU time of the tree / wall time x 100 (over 100 with several cores busy)
  memory_rss_mb          resident memory of the tree (each process's RSS, summed: pages shared by
                         forked workers count in each, as `top` shows them)
  memory_percent         memory_rss_mb / the machine's memory x 100
  machine_memory_used_mb the machine's memory in use (MemTotal - MemAvailable)
  disk_read_mb_per_s, disk_write_mb_per_s   storage I/O of the tree (/proc/PID/io)
  net_recv_mb_per_s, net_sent_mb_per_s      the machine's network traffic (all interfaces but lo)
  gpuN_utilization_percent, gpuN_memory_used_mb, gpuN_temperature_c, gpuN_power_w   (`_nvml`)
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping

from . import _procfs
from ._nvml import Gpus

ENV_SWITCH = "TAILRUN_SYSTEM_METRICS"
ENV_INTERVAL = "TAILRUN_SYSTEM_METRICS_INTERVAL"
DEFAULT_INTERVAL = 5.0
MIN_INTERVAL = 0.1
PREFIX = "system/"
MIB = 1024 * 1024
_OFF, _ON = ("0", "false", "off", "no"), ("", "1", "true", "on", "yes")


def settings(env: Mapping[str, str] | None = None) -> tuple[bool, float, list[str]]:
    """(on, interval seconds, problems): a bad switch turns sampling off, a bad interval falls back
    to the default; each problem is one line naming the variable and the value."""
    env = os.environ if env is None else env
    problems = []
    switch = env.get(ENV_SWITCH, "").strip().lower()
    on = switch in _ON
    if not on and switch not in _OFF:
        problems.append(f"{ENV_SWITCH} must be 1 or 0 (on or off), got {env.get(ENV_SWITCH)!r}; "
                        "system metrics are off")
    raw = env.get(ENV_INTERVAL, "").strip()
    interval = DEFAULT_INTERVAL
    if raw:
        try:
            interval = float(raw)
        except ValueError:
            interval = math.nan
        if not interval >= MIN_INTERVAL or math.isinf(interval):
            problems.append(f"{ENV_INTERVAL} must be a number of seconds of at least {MIN_INTERVAL:g}, "
                            f"got {raw!r}; sampling every {DEFAULT_INTERVAL:g} s")
            interval = DEFAULT_INTERVAL
    return on, interval, problems


def stored_name(name: str) -> str:
    return PREFIX + name


def shown_name(stored: str) -> str:
    return stored[len(PREFIX):] if stored.startswith(PREFIX) else stored


def shown_chunks(chunks: list) -> list:
    """Stored system-metric chunks renamed in place as `get_system_metrics()` names them
    (cpu_percent, not system/cpu_percent): what `tailrun metrics --system` and export write."""
    for chunk in chunks:
        chunk.name = shown_name(chunk.name)
    return chunks


def _rate(new: int | None, old: int | None, seconds: float) -> float | None:
    if new is None or old is None:
        return None
    # A process reaped outside the tree takes its counts with it: never a negative rate.
    return max(0.0, (new - old) / seconds / MIB)


class SystemSampler:
    """Samples one process tree (`_procfs`) and the GPUs. The first reading, taken at creation, is
    the baseline of the first sample's rates. Not thread-safe: one caller at a time."""

    def __init__(self, root: int, group: int | None = None, gpus: Gpus | None = None) -> None:
        self.root, self.group, self.gpus = root, group, gpus
        self._last = _procfs.read(root, group)

    def since_last(self) -> float:
        """Seconds since the last reading (the window the next sample's rates cover)."""
        return time.monotonic() - self._last.time

    def sample(self) -> dict[str, float]:
        """{name: value} (names without PREFIX); figures that could not be read are left out."""
        old, new = self._last, _procfs.read(self.root, self.group)
        self._last = new
        seconds = max(new.time - old.time, 1e-9)
        out = {
            "cpu_percent": max(0.0, (new.cpu_seconds - old.cpu_seconds) / seconds * 100.0),
            "memory_rss_mb": new.rss_bytes / MIB,
        }
        if new.mem_total_bytes:
            out["memory_percent"] = new.rss_bytes / new.mem_total_bytes * 100.0
            if new.mem_available_bytes is not None:
                out["machine_memory_used_mb"] = (new.mem_total_bytes - new.mem_available_bytes) / MIB
        for name, value in (("disk_read_mb_per_s", _rate(new.read_bytes, old.read_bytes, seconds)),
                            ("disk_write_mb_per_s", _rate(new.write_bytes, old.write_bytes, seconds)),
                            ("net_recv_mb_per_s", _rate(new.net_recv_bytes, old.net_recv_bytes, seconds)),
                            ("net_sent_mb_per_s", _rate(new.net_sent_bytes, old.net_sent_bytes, seconds))):
            if value is not None:
                out[name] = value
        if self.gpus is not None:
            out.update(self.gpus.sample())
        return out

"""System tab (and the Overview's System line): the CPU, memory, I/O and GPU figures the SDK samples
beside a run (stored as "system/<name>", kind SYSTEM). Charts in the paged grid: the process and
machine figures first, then the GPUs side by side, one row per quantity (utilisation, memory,
temperature, power), one column per GPU."""
from __future__ import annotations

import re

from tailrun.v1 import tailrun_pb2 as pb

from .. import fmt
from .chart_grid import MAX_GRID, MIN_CHART_WIDTH, grid_shape
from .metrics_view import MetricsView

PREFIX = "system/"
GPU = re.compile(r"^gpu(\d+)_(.+)$")
# name suffix -> unit, longest first
UNITS = (("_mb_per_s", "MB/s"), ("_percent", "%"), ("_mb", "MB"), ("_c", "°C"), ("_w", "W"))
ORDER = ("cpu_percent", "memory_percent", "memory_rss_mb", "machine_memory_used_mb",
         "disk_read_mb_per_s", "disk_write_mb_per_s", "net_recv_mb_per_s", "net_sent_mb_per_s")
GPU_ORDER = ("utilization_percent", "memory_used_mb", "temperature_c", "power_w")


def short(name: str) -> str:
    return name.removeprefix(PREFIX)


def gpu_of(name: str) -> tuple[int, str] | None:
    m = GPU.match(short(name))
    return (int(m.group(1)), m.group(2)) if m else None


def sort_key(name: str) -> tuple:
    """Process and machine figures in a fixed order, then the GPUs by quantity, then by index."""
    gpu = gpu_of(name)
    if gpu is None:
        base = short(name)
        return (0, ORDER.index(base) if base in ORDER else len(ORDER), base)
    index, quantity = gpu
    return (1, GPU_ORDER.index(quantity) if quantity in GPU_ORDER else len(GPU_ORDER), quantity, index)


def label_unit(base: str) -> tuple[str, str]:
    """`memory_used_mb` -> ("memory used", "MB")."""
    for suffix, unit in UNITS:
        if base.endswith(suffix):
            return base[: -len(suffix)].replace("_", " "), unit
    return base.replace("_", " "), ""


def figure(name: str, value: float) -> str:
    """`cpu 85.2 %`, `memory used 10,240 MB`, `temperature 71 °C`."""
    base = short(name)
    gpu = gpu_of(name)
    if gpu is not None:
        base = gpu[1]
    for suffix, unit in UNITS:
        if base.endswith(suffix):
            label = base[: -len(suffix)].replace("_", " ")
            return f"{label} {fmt.number(round(value, 1) if abs(value) >= 10 else value)} {unit}"
    return f"{base.replace('_', ' ')} {fmt.number(value)}"


def summary_lines(last: dict[str, float]) -> list[str]:
    """The Overview's lines: one for the process and machine, one per GPU."""
    names = sorted(last, key=sort_key)
    lines = []
    machine = [figure(n, last[n]) for n in names if gpu_of(n) is None]
    if machine:
        lines.append(" · ".join(machine))
    gpus: dict[int, list[str]] = {}
    for n in names:
        gpu = gpu_of(n)
        if gpu is not None:
            gpus.setdefault(gpu[0], []).append(figure(n, last[n]))
    for index in sorted(gpus):
        lines.append(f"GPU {index}: " + " · ".join(gpus[index]))
    return lines


class SystemView(MetricsView):
    """The System tab of a run."""
    HELP_TITLE = "System tab"
    NOUN = "system charts"
    EMPTY_NOTES = ("waiting for system metrics…", "No system metrics were sampled for this run.")

    def title_of(self, name: str) -> str:
        """`cpu (%)`, `GPU 1 power (W)`."""
        gpu = gpu_of(name)
        label, unit = label_unit(gpu[1] if gpu else short(name))
        return (f"GPU {gpu[0]} " if gpu else "") + label + (f" ({unit})" if unit else "")

    def names_of(self, run: pb.RunInfo) -> list[str]:
        return sorted(run.last_system_metrics, key=sort_key)

    def add_metric(self, name: str) -> None:
        if name not in self.series:
            super().add_metric(name)
            self.charts = {k: self.charts[k] for k in sorted(self.charts, key=sort_key)}
            self.relayout()

    def plan(self, keys: list[str], width: int, height: int) -> list[tuple[tuple[int, int], list[str]]]:
        """The process and machine charts as any grid; then the GPUs: a column per GPU (side by
        side), a row per quantity, as many GPUs across as fit (more go to further pages)."""
        machine = [k for k in keys if gpu_of(k) is None]
        gpu_keys = [k for k in keys if gpu_of(k) is not None]
        pages = super().plan(machine, width, height) if machine else []
        if not gpu_keys:
            return pages or super().plan([], width, height)
        gpus = sorted({gpu_of(k)[0] for k in gpu_keys})
        quantities = sorted({gpu_of(k)[1] for k in gpu_keys}, key=lambda q: sort_key(f"gpu0_{q}"))
        across = max(1, min(len(gpus), MAX_GRID, width // MIN_CHART_WIDTH or 1))
        if across == 1:   # narrow: one column, each quantity's GPUs one under the other
            return pages + super().plan(gpu_keys, width, height)
        _, rows = grid_shape(width, height, across * len(quantities))
        rows = max(1, min(rows, len(quantities)))
        by_name = {gpu_of(k): k for k in gpu_keys}
        for g in range(0, len(gpus), across):
            group = gpus[g:g + across]
            for q in range(0, len(quantities), rows):
                page = [by_name.get((gpu, quantity), "") for quantity in quantities[q:q + rows] for gpu in group]
                page = [k for k in page if k]
                pages.append(((len(group), min(rows, len(quantities) - q)), page))
        return pages

"""System metrics of a run this runner supervises (see tailrun._exec.system): samples stored
through the run's writer as metrics of kind SYSTEM; an adopted run (after a service restart) goes
on from the samples an earlier service stored."""
from __future__ import annotations

from typing import Any

from tailrun import _system_metrics
from tailrun._exec.system import GroupSampler
from tailrun.v1 import tailrun_pb2 as pb

from ..errors import NotFound


def run_system_metrics(writer: Any, store: Any, pid: int, run_vars: dict[str, str], adopted: bool) -> GroupSampler:
    def emit(values: dict[str, float], index: int, when: float) -> None:
        writer.send([pb.Event(metrics=pb.MetricPoints(
            run_id=writer.run_id, name=name, kind=pb.METRIC_KIND_SYSTEM, times=[when], steps=[index],
            columns=[pb.Column(values=[value])])) for name, value in values.items()])

    first = _stored_samples(store, writer.run_id) if adopted else 0
    return GroupSampler(writer.run_id, pid, run_vars, emit, first_index=first)


def _stored_samples(store: Any, run_id: str) -> int:
    """How many samples an earlier service stored (an adopted run goes on from there)."""
    name = _system_metrics.stored_name("memory_rss_mb")
    try:
        return int(store.get_series(pb.SeriesRequest(run_id=run_id, name=name, max_points=1, tail=1)).total_points)
    except NotFound:
        return 0
    except Exception:   # sampling must never disturb supervising the run
        return 0

"""Events as a client sends them to the Ingest stream (timed now, a start Running): for the tests
that call the gRPC service directly. (The store tests' bare events: tests/service/storekit.py.)"""
from __future__ import annotations

import time
import uuid

from tailrun.v1 import tailrun_pb2 as pb


def new_id() -> str:
    return str(uuid.uuid4())


def start(run_id: str, experiment: str = "exp", parent: str = "", status: str = "Running") -> pb.Event:
    return pb.Event(start=pb.RunStart(run_id=run_id, experiment=experiment, parent_run_id=parent,
                                      status=status, run_type="child" if parent else "interactive",
                                      time=time.time()))


def points(run_id: str, name: str, values: list[float], first_step: int = 0) -> pb.Event:
    now = time.time()
    return pb.Event(metrics=pb.MetricPoints(
        run_id=run_id, name=name, kind=pb.METRIC_KIND_SCALAR, times=[now] * len(values),
        steps=list(range(first_step, first_step + len(values))), columns=[pb.Column(values=values)]))


def patch(run_id: str, status: str) -> pb.Event:
    return pb.Event(patch=pb.RunPatch(run_id=run_id, status=status, time=time.time()))


def file_chunk(run_id: str, path: str, data: bytes, offset: int = 0, last: bool = True) -> pb.Event:
    return pb.Event(file=pb.FileChunk(run_id=run_id, path=path, offset=offset, data=data, last=last))

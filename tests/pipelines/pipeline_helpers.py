"""Helpers of the pipeline tests: the step scripts, and waiting on the store for a state the test
then acts on (the end of a pipeline is waited for through the SDK's Watch-based wait_for_completion)."""
from __future__ import annotations

from typing import Any

from waiting import wait_until  # noqa: F401  (the pipeline tests import it from here)

# Step scripts: each appends its name to RUNS_LOG when it starts (so a test counts executions).
PREP = """\
import argparse, os
from tailrun import Run
p = argparse.ArgumentParser(); p.add_argument("--out"); p.add_argument("--log"); a = p.parse_args()
open(a.log, "a").write("prep\\n")
with open(os.path.join(a.out, "data.txt"), "w") as f:
    f.write("1 2 3\\n")
print("prep wrote", a.out)
Run.get_context().log("rows", 3)
"""
TRAIN = """\
import argparse, os
from tailrun import Run
p = argparse.ArgumentParser(); p.add_argument("--data"); p.add_argument("--out"); p.add_argument("--log")
a = p.parse_args()
open(a.log, "a").write("train\\n")
total = sum(int(x) for x in open(os.path.join(a.data, "data.txt")).read().split()) * FACTOR
with open(os.path.join(a.out, "model.txt"), "w") as f:
    f.write(str(total))
print("train sum", total)
Run.get_context().log("sum", total)
"""
EVALUATE = """\
import argparse, os
from tailrun import Run
p = argparse.ArgumentParser(); p.add_argument("--model"); p.add_argument("--log"); a = p.parse_args()
open(a.log, "a").write("evaluate\\n")
model = open(os.path.join(a.model, "model.txt")).read()
print("model:", model)
Run.get_context().log("score", int(model) * 10)
"""



def status_of(store: Any, run_id: str) -> str:
    from tailrun_service.errors import NotFound
    try:
        return store.get_run(run_id).status
    except NotFound:
        return ""


def step_runs(store: Any, pipeline_id: str) -> dict[str, Any]:
    """The pipeline's children by display name."""
    from tailrun.v1 import tailrun_pb2 as pb
    return {r.display_name: r for r in store.list_runs(pb.ListRunsRequest(parent_run_id=pipeline_id))}


def console(store: Any, run_id: str) -> str:
    from tailrun.v1 import tailrun_pb2 as pb
    return store.read_output(pb.ReadOutputRequest(run_id=run_id)).text

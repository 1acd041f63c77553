"""The orchestration core with a small real controller ("fanout": N children of one script, at
most K at a time): children go through the runner, the controller follows their events, a cancel
of the parent cancels them, and a service restart resumes the parent without running a child twice."""
from __future__ import annotations

import json

import pytest

from tailrun import _status as st
from tailrun_service.orchestration import CONTROLLERS, Controller
from tailrun_service.errors import InvalidArgument

from sweepkit import children_of, wait_status, wait_until

BLOCKING = """\
import os, sys, time
print("child", sys.argv[1:], "started", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.02)
from tailrun import Run
Run.get_context().log("value", int(sys.argv[1]))
"""


class FanOut(Controller):
    """`{"fanout": {"count": N, "at_once": K, "script": S, "args": [...]}}`: child i runs S i *args."""

    kind = run_type = "fanout"
    metrics = ("value",)

    @classmethod
    def check(cls, definition):
        if int(definition["fanout"]["count"]) < 1:
            raise InvalidArgument("fanout: count must be at least 1")

    def update(self):
        spec, run = self.run.definition["fanout"], self.run
        done = [c for c in run.children.values() if st.is_terminal(c.status)]
        for child in done:
            if child.run_id not in run.state.setdefault("ended", []):
                run.state["ended"].append(child.run_id)
                run.log(f"{child.run_id} {child.status} value={run.series(child.run_id, 'value')}")
        while len(run.children) < spec["count"] and len(run.active_children()) < spec["at_once"]:
            i = len(run.children)
            run.submit_child(str(i), {"script": spec["script"], "arguments": [str(i), *spec["args"]]})
        if len(done) == spec["count"]:
            run.finish(st.COMPLETED)


@pytest.fixture(autouse=True)
def fanout_kind(monkeypatch):
    monkeypatch.setitem(CONTROLLERS, "fanout", FanOut)


def _submit(ws, folder, run_id, count, at_once, args):
    from tailrun._snapshot import build_snapshot
    from tailrun.script_run import _send
    from tailrun.v1 import tailrun_pb2 as pb

    definition = {"fanout": {"count": count, "at_once": at_once, "script": "s.py", "args": args}}
    spec = pb.SubmitSpec(experiment="core", run_id=run_id, run_definition_json=json.dumps(definition))
    with build_snapshot(folder) as snapshot:
        return _send(ws._client(), spec, snapshot)


def test_children_run_through_the_runner_k_at_a_time(service, workspace_of, source_dir, tmp_path):
    release = tmp_path / "go"
    info = _submit(workspace_of(service), source_dir({"s.py": BLOCKING}), "FAN_1", 3, 2, [str(release)])
    assert (info.run_type, info.status) == ("fanout", "Running")
    assert info.properties["azureml.runsource"] == "fanout"
    wait_until(lambda: len(children_of(service.store, "FAN_1")) == 2, "two children submitted")
    assert len(children_of(service.store, "FAN_1")) == 2     # at most two at a time
    release.touch()
    parent = wait_status(service.store, "FAN_1", {"Completed", "Failed"})
    assert parent.status == "Completed", parent.error_json
    kids = children_of(service.store, "FAN_1")
    assert [k.run_id for k in kids] == ["FAN_1_0", "FAN_1_1", "FAN_1_2"]
    assert {k.status for k in kids} == {"Completed"}
    assert all(k.properties["ContentSnapshotId"] == parent.properties["ContentSnapshotId"] for k in kids)
    console = service.store.read_output(_req("FAN_1")).text
    assert sorted(console.splitlines()) == [f"FAN_1_{i} Completed value=[{i}]" for i in range(3)]
    # the controller's row is closed (a restarted service does not resume it) and it is let go
    wait_until(lambda: service.store.get_orchestration("FAN_1")[2] == "Completed", "the orchestration closed")
    assert service.store.active_orchestrations() == [] and "FAN_1" not in service.runner.active_runs()


def test_canceling_the_parent_cancels_its_children(service, workspace_of, source_dir, tmp_path):
    _submit(workspace_of(service), source_dir({"s.py": BLOCKING}), "FAN_2", 4, 2, [str(tmp_path / "never")])
    wait_until(lambda: {k.status for k in children_of(service.store, "FAN_2")} == {"Running"}
               and len(children_of(service.store, "FAN_2")) == 2, "two children running")
    service.runner.cancel("FAN_2")
    parent = wait_status(service.store, "FAN_2", {"Completed", "Failed", "Canceled"})
    assert parent.status == "Canceled"
    kids = children_of(service.store, "FAN_2")
    assert [(k.run_id, k.status) for k in kids] == [("FAN_2_0", "Canceled"), ("FAN_2_1", "Canceled")]


def test_a_restart_resumes_the_parent_and_runs_no_child_twice(service_factory, workspace_of, source_dir,
                                                              tmp_path):
    data_dir, release = tmp_path / "data", tmp_path / "go"
    first = service_factory(data_dir=data_dir)
    _submit(workspace_of(first), source_dir({"s.py": BLOCKING}), "FAN_3", 3, 2, [str(release)])
    wait_until(lambda: len(children_of(first.store, "FAN_3")) == 2, "two children submitted")
    first.runner.stop(kill_runs=False)   # what a restart looks like to the runs
    first.stop(grace=1)

    second = service_factory(data_dir=data_dir, port=first.port)   # a restart keeps its address
    assert "FAN_3" in second.runner.active_runs()
    release.touch()
    parent = wait_status(second.store, "FAN_3", {"Completed", "Failed"})
    assert parent.status == "Completed", parent.error_json
    kids = children_of(second.store, "FAN_3")
    assert [(k.run_id, k.status) for k in kids] == [(f"FAN_3_{i}", "Completed") for i in range(3)]
    for kid in kids:   # each child's script started once
        assert second.store.read_output(_req(kid.run_id)).text.count("started") == 1


def test_a_bad_definition_is_refused_before_anything_is_created(service, workspace_of, source_dir):
    from tailrun.exceptions import TailrunError
    with pytest.raises(TailrunError) as caught:
        _submit(workspace_of(service), source_dir({"s.py": BLOCKING}), "FAN_4", 0, 1, [])
    assert "count must be at least 1" in str(caught.value)
    assert not service.store.run_exists("FAN_4")


def _req(run_id):
    from tailrun.v1 import tailrun_pb2 as pb
    return pb.ReadOutputRequest(run_id=run_id)

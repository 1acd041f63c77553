"""The SDK never strands its later batches behind a seq the service will not get (contract C1:
the service applies a batch only at committed + 1): a spooled batch that cannot be read back, and
a service that forgot batches it had acknowledged, both become empty batches at those seqs, said
as lost, and everything after them is delivered."""
from __future__ import annotations

from pathlib import Path

import pytest
from faultkit import ServiceProcess, spawn_script, script_env, stored_points, wait_for

NO_HANG = 90

UNREADABLE_SPOOL_RECORD = """
import json
import tailrun._recorder as recorder_module
from tailrun import Experiment, Workspace
from tailrun._spool import SpoolWriter

recorder_module.MEMORY_BYTES = 0          # every batch is read back from the spool to be sent
real_read_at, reads = SpoolWriter.read_at, []

def failing_read_at(self, number, offset):  # a bad sector under the second batch
    reads.append(offset)
    if len(reads) == 2:
        raise OSError(5, "Input/output error")
    return real_read_at(self, number, offset)

SpoolWriter.read_at = failing_read_at
run = Experiment(Workspace(), "unreadable").start_logging(outputs=False, snapshot_directory=None)
for step in range(5):
    run.log("m", float(step), step=step)
    run.flush(30)
run.complete()
print(json.dumps({"run": run.id}), flush=True)
"""


def test_an_unreadable_spool_record_is_skipped_not_a_wall(tmp_path: Path) -> None:
    svc = ServiceProcess(tmp_path / "data").start()
    try:
        proc = spawn_script(UNREADABLE_SPOOL_RECORD, script_env(tmp_path / "home", svc.address,
                                                                TAILRUN_EXIT_TIMEOUT="20"), tmp_path / "cwd")
        out, err = proc.communicate(timeout=NO_HANG)
        assert proc.returncode == 0, err[-3000:]
        import json
        run_id = json.loads(out.splitlines()[-1])["run"]
        steps = stored_points(svc.client(), run_id)["m"][0]
        # The batch whose record could not be read is lost, and said; every later one is stored.
        assert "lost batch 2: its spool record cannot be read" in err, err[-2000:]
        assert steps[-1] == 4 and len(steps) >= 3, steps
        assert svc.client().get_run(run_id).status == "Completed"
    finally:
        svc.stop()


FORGETFUL_SERVICE = """
import json, time
from pathlib import Path
from tailrun import Experiment, Workspace
here = Path.cwd()
ws = Workspace()
first = Experiment(ws, "forgotten").start_logging(outputs=False, snapshot_directory=None)
for step in range(100):
    first.log("m", float(step), step=step)
first.complete()
first.flush(30)
(here / "phase1").write_text(first.id)
while not (here / "replaced").exists():     # the test swaps the service's data dir
    time.sleep(0.02)
second = Experiment(ws, "after").start_logging(outputs=False, snapshot_directory=None)
for step in range(100):
    second.log("m", float(step), step=step)
second.complete()
print(json.dumps({"second": second.id}), flush=True)
"""


@pytest.mark.slow
def test_a_service_that_forgot_acknowledged_batches_still_gets_the_later_ones(tmp_path: Path) -> None:
    svc = ServiceProcess(tmp_path / "data-a").start()
    cwd = tmp_path / "cwd"
    replacement = None
    try:
        proc = spawn_script(FORGETFUL_SERVICE, script_env(tmp_path / "home", svc.address,
                                                          TAILRUN_EXIT_TIMEOUT="20"), cwd)
        wait_for(lambda: (cwd / "phase1").exists() or proc.poll() is not None, 60, "phase 1")
        svc.kill()
        # Same address, a fresh data dir: the batches it had acknowledged are gone.
        replacement = ServiceProcess(tmp_path / "data-b", port=svc.port).start()
        (cwd / "replaced").write_text("")
        out, err = proc.communicate(timeout=NO_HANG)
        assert proc.returncode == 0, err[-3000:]
        import json
        second = json.loads(out.splitlines()[-1])["second"]
        assert stored_points(replacement.client(), second)["m"][0] == list(range(100))
        assert replacement.client().get_run(second).status == "Completed"
        assert "no longer has batches 1.." in err, err[-2000:]
    finally:
        svc.stop()
        if replacement is not None:
            replacement.stop()

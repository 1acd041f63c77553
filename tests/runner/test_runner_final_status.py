"""`run.fail()` and `run.cancel()` inside a submitted run are final: whatever the script's exit
code afterwards, the run ends Failed with the error the script gave, or Canceled."""
from __future__ import annotations

import json

from tailrun import Experiment, ScriptRunConfig

FAIL_THEN_EXIT = """\
import sys
from tailrun import Run
run = Run.get_context()
run.log("loss", 0.5)
run.fail("the data is bad", error_code="DataError")
print("status after fail:", run.get_status())
sys.exit({code})
"""


def submit(ws, source_dir, code: int):
    folder = source_dir({"train.py": FAIL_THEN_EXIT.format(code=code)})
    run = Experiment(ws, "final-status").submit(ScriptRunConfig(str(folder), script="train.py"))
    details = run.wait_for_completion(raise_on_error=False)
    return run, details


def test_fail_then_exit_0_stays_failed_with_the_scripts_error(ws, source_dir, service):
    run, details = submit(ws, source_dir, 0)
    assert details["status"] == "Failed"
    assert details["error"] == {"error": {"code": "DataError", "message": "the data is bad"}}
    stored = service.store.get_run(run.id)
    assert stored.status == "Failed"
    assert json.loads(stored.error_json) == {"error": {"code": "DataError", "message": "the data is bad"}}
    assert run.get_metrics() == {"loss": 0.5}
    assert "status after fail: Failed" in run._client().read_output(run.id).text


def test_fail_then_exit_1_keeps_the_scripts_error(ws, source_dir, service):
    run, details = submit(ws, source_dir, 1)
    assert details["status"] == "Failed"
    assert details["error"] == {"error": {"code": "DataError", "message": "the data is bad"}}
    assert json.loads(service.store.get_run(run.id).error_json)["error"]["message"] == "the data is bad"


def test_exception_passed_to_fail_is_kept(ws, source_dir):
    folder = source_dir({"train.py": (
        "from tailrun import Run\n"
        "try:\n    raise KeyError('label')\n"
        "except KeyError as exc:\n    Run.get_context().fail(exc)\n")})
    run = Experiment(ws, "final-status").submit(ScriptRunConfig(str(folder), script="train.py"))
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    message = details["error"]["error"]["message"]
    assert message.startswith("User program failed with KeyError: 'label'")
    assert "Traceback (most recent call last)" in message


CANCEL_THEN_EXIT = """\
import sys
from tailrun import Run
run = Run.get_context()
run.log("loss", 0.5)
run.cancel()
print("status after cancel:", run.get_status())
sys.exit({code})
"""


def test_cancel_inside_a_submitted_run_is_final(ws, source_dir, service):
    for code in (0, 3):
        folder = source_dir({"train.py": CANCEL_THEN_EXIT.format(code=code)})
        run = Experiment(ws, "final-status").submit(ScriptRunConfig(str(folder), script="train.py"))
        details = run.wait_for_completion()   # Canceled never raises
        assert details["status"] == "Canceled", code
        assert "error" not in details
        assert service.store.get_run(run.id).status == "Canceled"
        assert run.get_metrics() == {"loss": 0.5}
        assert "status after cancel: Canceled" in run._client().read_output(run.id).text

"""A Run's life against a real service: attributes, tags and properties, details, finishing, `with`,
child runs; and in real child processes: uncaught exceptions, atexit, `Run.get_context()`."""
from __future__ import annotations

import json
import sys

import pytest

from api_helpers import script, start
from tailrun import Experiment, Run


def test_attributes_tags_properties_and_details(ws):
    run = start(ws, "runs-attrs", display_name="first", description="about it", tags={"lr": 0.1, "n": None})
    assert run.status == "Running" and run.type == "interactive" and run.parent is None
    assert run.tags == {"lr": "0.1", "n": ""}
    assert str(run) == f"Run(Experiment: runs-attrs,\nId: {run.id},\nType: interactive,\nStatus: Running)"
    run.tag("stage", "warmup")
    run.set_tags({"stage": "train", "bs": 32})
    run.remove_tags(["n"])
    run.add_properties({"seed": 7})
    run.add_properties({"seed": "7"})   # the same value again is fine
    run.add_properties({})
    run.display_name = "renamed"
    run.description = "new text"
    assert run.get_tags() == {"lr": "0.1", "stage": "train", "bs": "32"}
    assert run.get_properties() == {"seed": "7"}
    assert run.number == 1

    details = run.get_details()
    assert list(details)[:4] == ["runId", "target", "status", "startTimeUtc"]
    assert details["runId"] == run.id and details["status"] == "Running"
    assert "endTimeUtc" not in details and details["properties"] == {"seed": "7"}
    assert details["inputDatasets"] == [] and details["outputDatasets"] == [] and details["runDefinition"] == {}
    assert details["startTimeUtc"].endswith("Z") and isinstance(details["logFiles"], dict)

    again = Run.get(ws, run.id)
    assert (again.display_name, again.description, again.experiment.name) == ("renamed", "new text", "runs-attrs")
    run.complete()
    assert run.status == "Completed" and run.get_status() == "Completed"
    assert "endTimeUtc" in run.get_details()
    assert Run.get(ws, run.id).get_status() == "Completed"


def test_fail_and_cancel(ws):
    run = start(ws, "runs-fail")
    try:
        raise ValueError("boom")
    except ValueError as exc:
        run.fail(exc)
    error = run.get_details()["error"]["error"]
    assert error["code"] == "UserError"
    assert error["message"].startswith("User program failed with ValueError: boom")
    assert 'raise ValueError("boom")' in error["message"] and "Traceback" in error["message"]
    assert run.get_status() == "Failed"

    coded = start(ws, "runs-fail")
    coded.fail(error_details="disk full", error_code="SystemError")
    assert coded.get_details()["error"] == {"error": {"code": "SystemError", "message": "disk full"}}

    canceled = start(ws, "runs-fail")
    canceled.cancel()
    assert canceled.get_status() == "Canceled"


def test_with_block(ws):
    with start(ws, "runs-with") as ok:
        ok.log("x", 1)
    assert ok.get_status() == "Completed"

    with pytest.raises(KeyError):
        with start(ws, "runs-with") as bad:
            raise KeyError("missing")
    details = bad.get_details()
    assert details["status"] == "Failed"
    assert details["error"]["error"]["message"].startswith("User program failed with KeyError: 'missing'")

    with pytest.raises(SystemExit):
        with start(ws, "runs-with") as exited:
            sys.exit(0)
    assert exited.get_status() == "Completed"


def test_children(ws):
    parent = start(ws, "runs-children")
    a = parent.child_run("a")
    b = parent.child_run(run_id="explicit-child-id")
    b.tag("kind", "special")
    grand = a.child_run("g")
    a.complete()
    assert b.id == "explicit-child-id" and a.display_name == "a"
    assert a.parent is parent and a.type == "child"
    assert {r.id for r in parent.get_children()} == {a.id, b.id}
    assert {r.id for r in parent.get_children(recursive=True)} == {a.id, b.id, grand.id}
    assert [r.id for r in parent.get_children(tags="kind")] == [b.id]
    assert [r.id for r in parent.get_children(tags={"kind": "special"})] == [b.id]
    assert [r.id for r in parent.get_children(status="Completed")] == [a.id]
    fetched = Run.get(ws, grand.id)
    assert fetched.parent.id == a.id and fetched.parent.parent.id == parent.id
    assert Run.get(ws, parent.id).parent is None
    # top-level listings leave children out unless asked
    exp = Experiment(ws, "runs-children")
    assert [r.id for r in exp.get_runs()] == [parent.id]
    assert {r.id for r in exp.get_runs(include_children=True)} == {parent.id, a.id, b.id, grand.id}


def test_uncaught_exception_in_a_script_marks_the_run_failed(ws, run_script):
    proc = run_script(script("""
        from tailrun import Workspace, Experiment
        run = Experiment(Workspace(), "crash").start_logging()
        child = run.child_run("c")
        run.log("before", 1.5)
        print("RUN_ID", run.id, child.id, flush=True)
        def train():
            raise RuntimeError("diverged at step 3")
        train()
    """))
    assert proc.returncode == 1
    assert "RuntimeError: diverged at step 3" in proc.stderr  # the user's traceback is still printed
    run_id, child_id = proc.stdout.split("RUN_ID ", 1)[1].split()[:2]
    for rid in (run_id, child_id):
        details = Run.get(ws, rid).get_details()
        assert details["status"] == "Failed"
        message = details["error"]["error"]["message"]
        assert message.startswith("User program failed with RuntimeError: diverged at step 3")
        assert "Traceback (most recent call last)" in message and ", in train" in message
    assert Run.get(ws, run_id).get_metrics() == {"before": 1.5}


def test_with_block_in_a_script_and_atexit_completion(ws, run_script):
    proc = run_script(script("""
        from tailrun import Workspace, Experiment
        exp = Experiment(Workspace(), "scripted")
        left_open = exp.start_logging()
        print("OPEN", left_open.id, flush=True)
        left_open.log("n", 1)
        with exp.start_logging() as run:
            print("WITH", run.id, flush=True)
            raise ValueError("bad batch")
    """))
    assert proc.returncode == 1, proc.stderr
    with_id = proc.stdout.split("WITH ", 1)[1].split()[0]
    open_id = proc.stdout.split("OPEN ", 1)[1].split()[0]
    failed = Run.get(ws, with_id).get_details()
    assert failed["status"] == "Failed"
    assert "User program failed with ValueError: bad batch" in failed["error"]["error"]["message"]
    # the excepthook also fails the run left open (it was active when the script crashed)
    assert Run.get(ws, open_id).get_status() == "Failed"

    proc = run_script(script("""
        from tailrun import Workspace, Experiment
        run = Experiment(Workspace(), "scripted").start_logging()
        run.log("n", 2)
        print("OPEN", run.id, flush=True)
    """))
    assert proc.returncode == 0, proc.stderr
    open_id = proc.stdout.split("OPEN ", 1)[1].split()[0]
    assert Run.get(ws, open_id).get_status() == "Completed"   # completed at exit
    assert Run.get(ws, open_id).get_metrics() == {"n": 2}


def test_get_context_inside_a_submitted_run(ws, run_script):
    outer = start(ws, "submitted-like")
    outer.flush()
    proc = run_script(script("""
        from tailrun import Run
        run = Run.get_context()
        assert run is Run.get_context()          # one cached object per run id
        run.log("accuracy", 0.875)
        run.log_list("losses", [0.5, 0.25])
        run.tag("from", "child")
        run.fail("attached error")                # attaches the error; the runner ends the run Failed with it
        run.complete()
        print("CTX", run.id, run.experiment.name)
    """), env={"TAILRUN_RUN_ID": outer.id, "TAILRUN_EXPERIMENT": "submitted-like"})
    assert proc.returncode == 0, proc.stderr
    assert f"CTX {outer.id} submitted-like" in proc.stdout
    assert outer.get_metrics() == {"accuracy": 0.875, "losses": [0.5, 0.25]}
    details = outer.get_details()
    assert details["status"] == "Running"   # the service (runner) owns the status
    assert details["error"]["error"]["message"] == "attached error"
    assert outer.get_tags()["from"] == "child"


def test_get_context_outside_a_submitted_run_records(ws, run_script, tmp_path):
    code = script("""
        import sys
        from tailrun import Run
        from tailrun.exceptions import RunEnvironmentException
        try:
            Run.get_context(allow_offline=False)
        except RunEnvironmentException as exc:
            print("REFUSED", exc)
        run = Run.get_context()
        run.log("some info", 42)
        print("CTX", run.id, run.experiment.name)
        run.complete()
    """)
    proc = run_script(code)
    assert proc.returncode == 0, proc.stderr
    assert "REFUSED Run.get_context(allow_offline=False): this script is not running as a submitted run" in proc.stdout
    run_id, name = proc.stdout.split("CTX ", 1)[1].split()
    assert name == "interactive"   # `python -c`: no script file
    offline = Run.get(ws, run_id)
    assert offline.get_metrics() == {"some info": 42} and offline.get_status() == "Completed"

    script_file = tmp_path / "train_model.py"
    script_file.write_text(code)
    proc = run_script(f"import runpy, sys; sys.argv = [{str(script_file)!r}]; "
                      f"runpy.run_path({str(script_file)!r}, run_name='__main__')")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("CTX ", 1)[1].split()[1] == "train_model"


def test_console_goes_to_user_log(ws, run_script):
    proc = run_script(script("""
        import os, sys
        from tailrun import Workspace, Experiment
        run = Experiment(Workspace(), "console").start_logging()
        print("hello from print", flush=True)
        os.write(2, b"raw fd write\\n")
        run.complete()
        print("ID", run.id)
    """))
    assert proc.returncode == 0, proc.stderr
    assert "hello from print" in proc.stdout   # the user still sees everything
    run_id = proc.stdout.split("ID ", 1)[1].split()[0]
    run = Run.get(ws, run_id)
    assert "logs/user_log.txt" in run.get_details()["logFiles"]
    text = run._client().read_file_bytes(run_id, "logs/user_log.txt").decode()
    assert "hello from print" in text and "raw fd write" in text


def test_error_json_is_bounded(ws):
    run = start(ws, "runs-fail")
    try:
        raise ValueError("x" * 5000)
    except ValueError as exc:
        run.fail(exc)
    message = run.get_details()["error"]["error"]["message"]
    assert len(message) <= 3000 and message.startswith("User program failed with ValueError: xxx")
    assert json.loads(run._fetch().error_json)["error"]["code"] == "UserError"

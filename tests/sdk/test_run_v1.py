"""Azure ML v1 Run methods on any Run (not only submitted ones), against a real service:
`wait_for_completion` on interactive runs, `create_children`, `get_details_with_logs`,
`get_all_logs`, `get_portal_url`, and `Run(experiment, run_id)` reading the real status."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from api_helpers import script, start
from tailrun import Experiment, Run
from tailrun.script_run import ActivityFailedException


def _wait_in_thread(run, **kwargs):
    result: dict = {}

    def target() -> None:
        try:
            result["details"] = run.wait_for_completion(**kwargs)
        except BaseException as exc:  # handed to the test thread
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, result


def test_wait_for_completion_on_an_interactive_run_ends_when_another_process_completes_it(ws, run_script):
    run = start(ws, "wait-v1")
    run.flush()
    exp = Experiment(ws, "wait-v1")
    waiters = [Run(exp, run.id), Run.get(ws, run.id), next(iter(exp.get_runs()))]
    threads = [_wait_in_thread(w) for w in waiters]
    proc = run_script(script(f"""
        from tailrun import Workspace, Run
        Run.get(Workspace(), {run.id!r}).complete()
    """))
    assert proc.returncode == 0, proc.stderr
    for thread, result in threads:
        thread.join(30)
        assert not thread.is_alive()
        assert "error" not in result, result.get("error")
        assert result["details"]["status"] == "Completed" and result["details"]["runId"] == run.id
    assert all(w.status == "Completed" for w in waiters)


def test_wait_for_completion_raises_for_a_failed_interactive_run(ws, run_script):
    run = start(ws, "wait-v1-fail")
    run.flush()
    thread, result = _wait_in_thread(Run.get(ws, run.id))
    quiet_thread, quiet = _wait_in_thread(Run.get(ws, run.id), raise_on_error=False)
    proc = run_script(script(f"""
        from tailrun import Workspace, Run
        Run.get(Workspace(), {run.id!r}).fail("went wrong")
    """))
    assert proc.returncode == 0, proc.stderr
    thread.join(30)
    quiet_thread.join(30)
    assert isinstance(result.get("error"), ActivityFailedException)
    assert "went wrong" in str(result["error"])
    assert quiet["details"]["status"] == "Failed" and "went wrong" in str(quiet["details"]["error"])


def test_wait_for_completion_on_a_finished_run_returns_at_once(ws):
    run = start(ws, "wait-v1-done")
    run.complete()
    assert Run.get(ws, run.id).wait_for_completion()["status"] == "Completed"


def test_run_constructor_and_repr_show_the_real_status(ws):
    run = start(ws, "ctor-v1")
    run.complete()
    attached = Run(Experiment(ws, "ctor-v1"), run.id)
    assert attached.status == "Completed"
    assert "Status: Completed" in repr(attached)


def test_create_children_by_count_and_by_tag_values(ws):
    parent = start(ws, "children-v1")
    kids = parent.create_children(count=3)
    assert len(kids) == 3 and len({k.id for k in kids}) == 3
    assert all(k.status == "Running" and k.parent is parent for k in kids)
    tagged = parent.create_children(tag_key="lr", tag_values=[0.1, 0.01])
    for kid in kids + tagged:
        kid.complete()
    stored = {c.id: c for c in parent.get_children()}
    assert set(stored) == {k.id for k in kids + tagged}
    assert sorted(stored[k.id].get_tags()["lr"] for k in tagged) == ["0.01", "0.1"]
    assert all(stored[k.id].parent.id == parent.id for k in kids)
    with pytest.raises(ValueError):
        parent.create_children()
    with pytest.raises(ValueError):
        parent.create_children(count=101)
    with pytest.raises(ValueError):
        parent.create_children(tag_key="lr")
    parent.complete()


def test_details_with_logs_and_get_all_logs(ws, tmp_path):
    run = start(ws, "logs-v1")
    run.upload_file("logs/user_log.txt", str(_write(tmp_path / "a.txt", "hello log\n")))
    run.upload_file("user_logs/std_log.txt", str(_write(tmp_path / "b.txt", "std out\n")))
    run.upload_file("outputs/model.txt", str(_write(tmp_path / "c.txt", "not a log\n")))
    run.complete()
    again = Run.get(ws, run.id)
    details = again.get_details_with_logs()
    assert details["status"] == "Completed"
    assert details["logFiles"] == {"logs/user_log.txt": "hello log\n", "user_logs/std_log.txt": "std out\n"}
    dest = tmp_path / "dest"
    paths = again.get_all_logs(destination=str(dest))
    assert sorted(paths) == sorted([str(dest / "logs/user_log.txt"), str(dest / "user_logs/std_log.txt")])
    assert (dest / "logs/user_log.txt").read_text() == "hello log\n"
    default_paths = again.get_all_logs()
    assert len(default_paths) == 2 and all(Path(p).is_file() for p in default_paths)


def test_portal_url_is_the_ui_command(ws):
    run = start(ws, "portal-v1")
    assert run.get_portal_url() == f"tailrun ui --address {ws.address} --run {run.id}"
    run.complete()


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path

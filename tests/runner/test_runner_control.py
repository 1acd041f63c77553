"""Cancel, the time limit, the concurrency limit and the status path, with real child processes."""
from __future__ import annotations

import time

from processes import group_alive
from tailrun import Experiment, ScriptRunConfig

SLEEPER = """\
import time
print("started", flush=True)
time.sleep(60)
print("never printed")
"""

STUBBORN = """\
import signal, time
signal.signal(signal.SIGTERM, lambda *a: print("ignoring SIGTERM", flush=True))
print("started", flush=True)
while True:
    time.sleep(0.1)
"""

UNTIL_FILE = """\
import os, sys, time
print("started", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
print("released")
"""


def test_cancel_a_running_run(ws, source_dir, service, wait_console, capsys):
    run = Experiment(ws, "cancel").submit(ScriptRunConfig(str(source_dir({"s.py": SLEEPER})), script="s.py"))
    wait_console(service.store, run.id, "started")
    pgid = _pid_of(service, run.id)
    run.cancel()
    assert run.status in ("CancelRequested", "Canceled")
    details = run.wait_for_completion(show_output=True)   # Canceled never raises
    assert details["status"] == "Canceled"
    assert "never printed" not in capsys.readouterr().out
    assert not group_alive(pgid)


def test_cancel_kills_after_the_grace_period(ws, source_dir, service, wait_console):
    service.runner.ctx.grace_seconds = 0.5
    run = Experiment(ws, "cancel").submit(ScriptRunConfig(str(source_dir({"s.py": STUBBORN})), script="s.py"))
    wait_console(service.store, run.id, "started")
    started = time.monotonic()
    run.cancel()
    assert run.wait_for_completion()["status"] == "Canceled"
    assert time.monotonic() - started < 5
    assert "ignoring SIGTERM" in run._client().read_output(run.id).text


def test_time_limit_fails_the_run(ws, source_dir):
    config = ScriptRunConfig(str(source_dir({"s.py": SLEEPER})), script="s.py", max_run_duration_seconds=1)
    run = Experiment(ws, "limits").submit(config)
    started = time.monotonic()
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert details["error"]["error"]["message"] == "exceeded max_run_duration_seconds (1 s)"
    assert time.monotonic() - started < 10


def test_runs_wait_as_queued_in_submit_order(service_factory, workspace_of, source_dir, tmp_path, wait_status):
    service = service_factory(max_concurrent_runs=1)
    ws = workspace_of(service)
    folder = source_dir({"s.py": UNTIL_FILE})
    exp = Experiment(ws, "queue")
    releases = [tmp_path / f"release{i}" for i in range(3)]
    runs = [exp.submit(ScriptRunConfig(str(folder), script="s.py", arguments=[str(r)])) for r in releases]

    wait_status(service.store, runs[0].id, "Running")
    time.sleep(0.3)
    assert [service.store.get_run(r.id).status for r in runs[1:]] == ["Queued", "Queued"]
    assert service.runner.queued_runs() == [runs[1].id, runs[2].id]

    releases[0].touch()
    wait_status(service.store, runs[1].id, "Running")
    assert service.store.get_run(runs[2].id).status == "Queued"
    runs[2].cancel()          # a queued run is canceled at once
    assert service.store.get_run(runs[2].id).status == "Canceled"
    releases[1].touch()
    assert runs[1].wait_for_completion()["status"] == "Completed"
    first, second = (service.store.get_run(r.id) for r in runs[:2])
    assert second.start_time >= first.end_time


def test_every_status_change_is_a_watch_event(ws, source_dir):
    run = Experiment(ws, "statuses").submit(ScriptRunConfig(str(source_dir({"s.py": "print('hi')"})), script="s.py"))
    assert run.wait_for_completion()["status"] == "Completed"
    history = ws._client().watch(run_id=run.id, from_start=True, kinds=["status"])
    events = []
    for event in history:
        if event.caught_up:
            break
        events.append(event)
    history.cancel()
    # one per change: NotStarted (the start), Queued, Preparing, Starting, Running, Finalizing, Completed
    assert len(events) == 7
    assert [e.cursor for e in events] == sorted(e.cursor for e in events)


def _pid_of(service, run_id: str) -> int:
    import json
    state = json.loads((service.data_dir / "runs" / run_id / "state.json").read_text())
    return state["pid"]

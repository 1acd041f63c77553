"""Exactly once under faults (issue 5, item 1).

A real script logs 1,000,000 points (10 metrics x 100,000 steps) while a real service process is
SIGKILLed and restarted three times on the same port and data dir: afterwards exactly those points
are stored, each once, in order, with the logged values; the logging loop ends while the service
is still down (so it never waited for it). With no service for the whole script, the script exits
0 at once with everything spooled, and a later SDK process, or `tailrun sync`, uploads it once.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from faultkit import (
    PYTHON,
    ServiceProcess,
    assert_exact_series,
    free_port,
    run_script,
    script_env,
    spawn_script,
    stored_points,
    wait_for,
)

METRICS = 10
NAMES = [f"m{m}" for m in range(METRICS)]


def value_of(metric: int, step: int) -> float:
    return metric * 1000.0 + step * 0.5


# The script under test. It reports progress every 1000 steps and paces itself a little, so that
# the test can kill the service at known points of the loop.
LOGGER = """
import json, os, sys, time
from pathlib import Path
from tailrun import Experiment, Workspace
from tailrun._recorder import recorder

STEPS, PACE = int(os.environ["STEPS"]), float(os.environ["PACE"])
out = Path(os.environ["OUT"])
run = Experiment(Workspace(), "exactly-once").start_logging(outputs=False, snapshot_directory=None)
(out / "run_id").write_text(run.id)
names = [f"m{m}" for m in range(10)]
log, clock, worst = run.log, time.perf_counter, 0.0
t0 = clock()
for step in range(STEPS):
    for m, name in enumerate(names):
        t = clock()
        log(name, m * 1000.0 + step * 0.5, step=step)
        t = clock() - t
        if t > worst:
            worst = t
    if step % 1000 == 999:
        (out / "progress.tmp").write_text(str(step + 1))
        os.replace(out / "progress.tmp", out / "progress")
        time.sleep(PACE)
loop = clock() - t0
(out / "loop_done").write_text(json.dumps({"loop_s": loop, "worst_call_s": worst}))
go = out / "go"
while os.environ.get("WAIT_GO") and not go.exists():
    time.sleep(0.05)
run.complete()
rec, deadline = recorder(), time.monotonic() + float(os.environ.get("ACK_WAIT", "0"))
while time.monotonic() < deadline and rec.status().acked_seq < rec.status().last_seq:
    time.sleep(0.05)
st = rec.status()
print(json.dumps({"loop_s": loop, "worst_call_s": worst, "total_s": clock() - t0,
                  "acked": st.acked_seq, "last": st.last_seq, "spooled_bytes": st.spooled_bytes}))
"""


def _progress(out: Path) -> int:
    try:
        return int((out / "progress").read_text())
    except (OSError, ValueError):
        return 0


def _committed_seq(data_dir: Path) -> int:
    """The highest batch any SDK writer has committed (read-only, straight from SQLite)."""
    db = sqlite3.connect(f"file:{data_dir / 'tailrun.db'}?mode=ro", uri=True, timeout=10)
    try:
        row = db.execute("SELECT max(last_seq) FROM writers WHERE writer NOT LIKE 'liveness:%'").fetchone()
        return int(row[0] or 0)
    except sqlite3.OperationalError:   # not migrated yet
        return 0
    finally:
        db.close()


@pytest.mark.slow
def test_one_million_points_survive_three_sigkills_of_the_service(tmp_path: Path) -> None:
    steps = 100_000
    service = ServiceProcess(tmp_path / "data").start()
    out = tmp_path / "out"
    out.mkdir()
    env = script_env(tmp_path / "home", service.address, STEPS=str(steps), PACE="0.1", OUT=str(out),
                     WAIT_GO="1", ACK_WAIT="90")
    script = spawn_script(LOGGER, env, tmp_path / "cwd")
    kills: list[int] = []
    try:
        for threshold in (10_000, 35_000, 60_000):
            wait_for(lambda t=threshold: _progress(out) >= t, 60, f"the script to reach step {threshold}")
            # Only kill a service the script is really streaming to: its commits must be advancing.
            before = _committed_seq(service.data_dir)
            wait_for(lambda b=before: _committed_seq(service.data_dir) > b, 60, "the script's batches to commit")
            service.kill()
            kills.append(_progress(out))
            if len(kills) < 3:
                time.sleep(0.3)
                service.start()
        # The third outage lasts until the loop is done: logging cannot have waited for the service.
        done = json.loads(wait_for(lambda: (out / "loop_done").exists() and (out / "loop_done").read_text(),
                                   120, "the logging loop to finish while the service is down"))
        assert service.proc is not None and service.proc.poll() is not None, "the service came back early"
        service.start()
        (out / "go").write_text("")
        stdout, stderr = script.communicate(timeout=120)
        assert script.returncode == 0, stderr
        report = json.loads(stdout.strip().splitlines()[-1])
        assert report["acked"] == report["last"], f"not everything was acknowledged: {report}"

        assert all(k < steps for k in kills), kills
        run_id = (out / "run_id").read_text()
        client = service.client()
        assert client.get_run(run_id).status == "Completed"
        assert_exact_series(stored_points(client, run_id), NAMES, steps, value_of)
        print(f"\nkills at steps {kills}; loop {done['loop_s']:.2f} s; slowest run.log call "
              f"{done['worst_call_s'] * 1e3:.2f} ms; script total {report['total_s']:.2f} s")
    finally:
        if script.poll() is None:
            script.kill()
            script.wait()
        service.stop()


def _log_offline(tmp_path: Path, address: str, steps: int) -> tuple[str, dict, Path]:
    """Run the logger with nothing listening at `address`; returns (run_id, report, spool root)."""
    out = tmp_path / "out"
    out.mkdir()
    home = tmp_path / "home"
    env = script_env(home, address, STEPS=str(steps), PACE="0", OUT=str(out),
                     TAILRUN_EXIT_TIMEOUT="2")   # the exit drain would wait for the service for 40 s
    started = time.monotonic()
    done = run_script(LOGGER, env, tmp_path / "cwd", timeout=120)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "not reachable" in done.stderr and "tailrun sync" in done.stderr, done.stderr
    spool = home / "spool"
    folders = [p for p in spool.iterdir() if p.is_dir()]
    assert len(folders) == 1 and list(folders[0].glob("*.seg")), f"no spool under {spool}"
    assert report["acked"] == 0 and report["spooled_bytes"] > 0, report
    print(f"\noffline script: {elapsed:.2f} s wall, loop {report['loop_s']:.2f} s, "
          f"{report['spooled_bytes'] / 1e6:.1f} MB spooled")
    return (out / "run_id").read_text(), report, spool


LATER = """
import os, time
from pathlib import Path
from tailrun import Experiment, Workspace
run = Experiment(Workspace(), "later").start_logging(outputs=False, snapshot_directory=None)
run.log("x", 1.0)
run.flush()
spool, own = Path(os.environ["SPOOL"]), os.environ["OLD_WRITER"]
deadline = time.monotonic() + 60   # a training run lasts a while; the replay runs meanwhile
while (spool / own).exists() and time.monotonic() < deadline:
    time.sleep(0.05)
run.complete()
print("old spool gone" if not (spool / own).exists() else "old spool still there")
"""


@pytest.mark.slow
def test_service_down_for_the_whole_script_then_a_later_process_uploads_once(tmp_path: Path) -> None:
    steps = 20_000
    port = free_port()
    run_id, _report, spool = _log_offline(tmp_path, f"127.0.0.1:{port}", steps)
    old_writer = next(p.name for p in spool.iterdir() if p.is_dir())
    service = ServiceProcess(tmp_path / "data", port=port).start()
    try:
        env = script_env(tmp_path / "home", service.address, SPOOL=str(spool), OLD_WRITER=old_writer)
        later = run_script(LATER, env, tmp_path / "cwd2", timeout=120)
        assert later.returncode == 0, later.stderr
        assert "old spool gone" in later.stdout, later.stderr
        assert "uploaded" in later.stderr and "spooled by an earlier process" in later.stderr, later.stderr
        client = service.client()
        assert client.get_run(run_id).status == "Completed"
        assert_exact_series(stored_points(client, run_id), NAMES, steps, value_of)
    finally:
        service.stop()


@pytest.mark.slow
def test_service_down_for_the_whole_script_then_tailrun_sync_uploads_once_even_if_repeated(
        tmp_path: Path) -> None:
    steps = 20_000
    port = free_port()
    run_id, _report, spool = _log_offline(tmp_path, f"127.0.0.1:{port}", steps)
    copy = tmp_path / "spool-copy"
    shutil.copytree(spool, copy)
    service = ServiceProcess(tmp_path / "data", port=port).start()
    env = script_env(tmp_path / "home", None)

    def sync() -> subprocess.CompletedProcess:
        return subprocess.run([PYTHON, "-m", "tailrun.cli", "sync"], env=env, capture_output=True,
                              text=True, timeout=120, check=False)
    try:
        first = sync()
        assert first.returncode == 0, first.stderr + first.stdout
        assert not [p for p in spool.iterdir() if p.is_dir()], "sync left the spool behind"
        # Replaying the same spool again (a copy restored from a backup, a sync interrupted after
        # the commit but before its ack) must store nothing twice.
        shutil.rmtree(spool)
        shutil.copytree(copy, spool)
        again = sync()
        assert again.returncode == 0, again.stderr + again.stdout
        client = service.client()
        assert client.get_run(run_id).status == "Completed"
        assert_exact_series(stored_points(client, run_id), NAMES, steps, value_of)
    finally:
        service.stop()

"""The recorder against the real service: exact counts, reconnects, spooling, exit, fork."""
from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tailrun.wire import decode_column
from tailrun._recorder import Recorder
from tailrun.wire import EVENT, POINT
from tailrun._settings import Settings


@pytest.fixture
def make_recorder() -> Iterator[Any]:
    made: list[Recorder] = []

    def make(address: str, token: str | None = None) -> Recorder:
        rec = Recorder()
        rec.configure(Settings(address=address, token=token))
        made.append(rec)
        return rec

    yield make
    for rec in made:
        rec.close(timeout=5)
        atexit.unregister(rec._at_exit)   # the per-test recorders' exit report is not wanted here


def _start_run(rec: Recorder, run_id: str, experiment: str = "exp") -> None:
    rec.queue.append((EVENT, run_id, "experiment", {"name": experiment}))
    rec.queue.append((EVENT, run_id, "start", {"run_id": run_id, "experiment": experiment,
                                              "status": "Running", "time": time.time()}))


def _stored(service: Any, run_id: str, name: str = "") -> dict[str, list[tuple[int, Any]]]:
    out: dict[str, list[tuple[int, Any]]] = {}
    for mp in service.store.iter_metrics(run_id, name):
        out.setdefault(mp.name, []).extend(zip(mp.steps, decode_column(mp.columns[0])))
    return out


def _dead_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def test_hundred_thousand_points_arrive_exactly_and_flush_returns(service: Any, make_recorder: Any,
                                                                  tailrun_home: Path) -> None:
    rec = make_recorder(service.address)
    _start_run(rec, "run-a")
    append, now = rec.queue.append, time.time()
    for step in range(25_000):
        for k in range(4):
            append((POINT, "run-a", f"m{k}", step * 0.5 + k, step, now))
    assert rec.flush(timeout=120)
    status = rec.status()
    assert status.connected and status.acked_seq >= 3 and status.last_error is None
    stored = _stored(service, "run-a")
    assert sorted(stored) == ["m0", "m1", "m2", "m3"]
    for k in range(4):
        assert stored[f"m{k}"] == [(s, s * 0.5 + k) for s in range(25_000)]
    assert rec.close(timeout=30)
    assert not (tailrun_home / "spool" / rec.writer).exists()   # all acked: the spool is removed


def test_exactly_once_when_the_stream_is_killed_midway(service: Any, make_recorder: Any) -> None:
    rec = make_recorder(service.address)
    _start_run(rec, "run-k")
    now, kills = time.time(), 0
    for chunk in range(20):
        for step in range(chunk * 5000, (chunk + 1) * 5000):
            rec.queue.append((POINT, "run-k", "loss", float(step), step, now))
        rec._wake.set()
        time.sleep(0.03)
        stream = rec._conn.stream
        if stream is not None and chunk % 4 == 1:
            stream.close()          # the connection drops with batches in flight
            kills += 1
    assert kills >= 2
    assert rec.flush(timeout=120)
    assert rec.status().connected
    assert _stored(service, "run-k")["loss"] == [(s, float(s)) for s in range(100_000)]


def test_service_restart_midway_loses_and_duplicates_nothing(service_factory: Any, make_recorder: Any,
                                                              tmp_path: Path) -> None:
    first = service_factory(data_dir=tmp_path / "data")
    port = first.port
    rec = make_recorder(first.address)
    _start_run(rec, "run-r")
    now = time.time()
    for step in range(30_000):
        rec.queue.append((POINT, "run-r", "acc", step / 10, step, now))
    assert rec.flush(timeout=60)
    for step in range(30_000, 40_000):
        rec.queue.append((POINT, "run-r", "acc", step / 10, step, now))
    first.stop(grace=0)
    for step in range(40_000, 60_000):
        rec.queue.append((POINT, "run-r", "acc", step / 10, step, now))
    assert rec.flush(timeout=60)              # the service is down: returns once spooled
    assert not rec.status().connected
    second = service_factory(data_dir=tmp_path / "data", port=port)
    deadline = time.monotonic() + 60
    while rec.status().acked_seq < rec.status().last_seq and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rec.flush(timeout=60) and rec.status().connected
    assert _stored(second, "run-r")["acc"] == [(s, s / 10) for s in range(60_000)]


def test_unreachable_service_spools_and_says_so_once(make_recorder: Any, capfd: Any,
                                                     tailrun_home: Path) -> None:
    address = _dead_address()
    rec = make_recorder(address)
    _start_run(rec, "run-u")
    for step in range(1000):
        rec.queue.append((POINT, "run-u", "m", float(step), step, time.time()))
    assert rec.flush(timeout=30)
    assert rec.flush(timeout=30)
    status = rec.status()
    assert not status.connected and status.spooled_bytes > 0 and status.last_error
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if "not reachable" in line]
    assert len(lines) == 1 and address in lines[0] and "tailrun sync" in lines[0]
    assert (tailrun_home / "spool" / rec.writer / "target.json").exists()


def test_rejected_events_are_printed_once_each(service: Any, make_recorder: Any, capfd: Any) -> None:
    rec = make_recorder(service.address)
    _start_run(rec, "run-x")
    bad = {"run_id": "run-x", "path": "../outside.txt", "offset": 0, "data": b"x", "last": True}
    for _ in range(3):
        rec.queue.append((EVENT, "run-x", "file", bad))
        assert rec.flush(timeout=30)
    refused = [line for line in capfd.readouterr().err.splitlines() if "the service refused" in line]
    assert len(refused) == 1 and refused[0].startswith("tailrun: the service refused")


def test_one_recorder_per_target_and_one_target_per_recorder(service: Any, make_recorder: Any) -> None:
    from tailrun._recorder import recorder
    rec = make_recorder(service.address)
    rec.configure(Settings(address=service.address, token=None))    # the same one is fine
    with pytest.raises(ValueError, match="already logs to"):
        rec.configure(Settings(address="127.0.0.1:1", token=None))
    right, wrong = Settings(address=service.address, token="a"), Settings(address=service.address, token="b")
    try:
        assert recorder(right) is recorder(Settings(address=service.address, token="a"))
        assert recorder(right) is not recorder(wrong)          # another token: another sender
        assert recorder(right).writer != recorder(wrong).writer
    finally:
        from recorder_reset import reset_recorder
        reset_recorder()


# ---------------------------------------------------------------- real child processes

_PRELUDE = """
import os, sys, time
from tailrun._recorder import recorder
from tailrun.wire import EVENT, POINT
from tailrun._settings import Settings

def start(run, n):
    q = recorder().queue
    q.append((EVENT, run, "experiment", {"name": "procs"}))
    q.append((EVENT, run, "start", {"run_id": run, "experiment": "procs", "status": "Running"}))
    for i in range(n):
        q.append((POINT, run, "m", float(i), i, time.time()))
"""


def _run_file(tmp_path: Path, code: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(_PRELUDE + textwrap.dedent(code))
    return subprocess.run([sys.executable, str(script)], env={**os.environ, **env}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=timeout)


def _count(service: Any, run_id: str) -> int:
    return sum(len(mp.times) for mp in service.store.iter_metrics(run_id))


def test_exit_hook_drains_without_an_explicit_flush(service: Any, tmp_path: Path, tailrun_home: Path) -> None:
    done = _run_file(tmp_path, """
        recorder().configure(Settings.resolve())
        start("run-exit", 20000)
    """, {"TAILRUN_ADDRESS": service.address, "TAILRUN_HOME": str(tailrun_home)})
    assert done.returncode == 0, done.stderr
    assert _count(service, "run-exit") == 20000
    assert not any((tailrun_home / "spool").glob("*/*.seg"))


def test_forked_children_log_without_hanging(service: Any, tmp_path: Path, tailrun_home: Path) -> None:
    done = _run_file(tmp_path, """
        import multiprocessing as mp

        def work(run):
            start(run, 300)            # no flush: the process's exit drains it

        def idle():
            time.sleep(0.5)
            rec = recorder()
            sys.exit(0 if rec._conn.stream is None and not rec.status().connected else 3)

        if __name__ == "__main__":
            recorder().configure(Settings.resolve())
            start("parent", 1000)
            assert recorder().flush(30)
            pid = os.fork()
            if pid == 0:
                start("child-os-fork", 500)
                sys.exit(0)
            assert os.waitpid(pid, 0)[1] == 0
            pid = os.fork()
            if pid == 0:
                idle()
            assert os.waitpid(pid, 0)[1] == 0, "a child that never logs opened a channel"
            for method in ("fork", "spawn"):
                proc = mp.get_context(method).Process(target=work, args=("child-mp-" + method,))
                proc.start()
                proc.join(60)
                assert proc.exitcode == 0, (method, proc.exitcode)
            start("parent", 0)
            assert recorder().flush(30)
            print("ok")
    """, {"TAILRUN_ADDRESS": service.address, "TAILRUN_HOME": str(tailrun_home)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert _count(service, "parent") == 1000
    assert _count(service, "child-os-fork") == 500
    assert _count(service, "child-mp-fork") == 300
    assert _count(service, "child-mp-spawn") == 300


def test_abandoned_spool_is_replayed_by_the_next_process(service: Any, tmp_path: Path,
                                                         tailrun_home: Path) -> None:
    env = {"TAILRUN_ADDRESS": service.address, "TAILRUN_HOME": str(tailrun_home)}
    crashed = _run_file(tmp_path, """
        recorder().configure(Settings.resolve())
        start("run-crash", 5000)
        rec = recorder()
        while rec.status().last_seq == 0 or rec._conn.stream is not None:   # spooled, then cut off
            if rec._conn.stream is not None:
                rec._conn.address = None  # pretend the network is gone before anything is sent
                rec._conn.stream.close(); rec._conn.stream = None
            time.sleep(0.01)
        os._exit(0)                       # a crash: no exit hook
    """, env)
    assert crashed.returncode == 0, crashed.stderr
    abandoned = sorted({str(seg.parent) for seg in (tailrun_home / "spool").glob("*/*.seg")})
    assert abandoned
    later = _run_file(tmp_path, """
        recorder().configure(Settings.resolve())
        start("run-later", 10)
        assert recorder().flush(30)
        # The replay runs in the background and removes the abandoned spool when it is stored.
        abandoned = os.environ["ABANDONED"].split(os.pathsep)
        deadline = time.monotonic() + 60
        while any(os.path.exists(folder) for folder in abandoned):
            assert time.monotonic() < deadline, "the abandoned spool was not replayed"
            time.sleep(0.02)
    """, {**env, "ABANDONED": os.pathsep.join(abandoned)})
    assert later.returncode == 0, later.stderr
    assert _count(service, "run-crash") == 5000
    assert _count(service, "run-later") == 10
    assert [p.name for p in (tailrun_home / "spool").iterdir()] == []

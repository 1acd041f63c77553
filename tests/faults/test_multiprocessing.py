"""Fork and multiprocessing (issue 5, item 4): logging from forked and spawned processes neither
hangs nor crashes, and a child process logs into its parent's run (the inherited Run object,
`Run.get_context()` with TAILRUN_RUN_ID, or `Run.get(ws, run_id)`) with every event arriving.

Each scenario is a real parent script in a child process of the test, killed by the subprocess
timeout if anything hangs. The parent is already streaming (sender thread and gRPC channel alive)
when it forks: the case that deadlocks naive clients.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from faultkit import run_script, script_env
from tailrun.client import Client
from tailrun._settings import Settings

NO_HANG_SECONDS = 120

PRELUDE = """
import json, multiprocessing as mp, os, sys, time
from tailrun import Experiment, Run, Workspace
N = 500   # points per child

def log_points(run, name):
    for step in range(N):
        run.log(name, step * 2.0, step=step)

def start_parent():
    run = Experiment(Workspace(), "mp").start_logging(outputs=False, snapshot_directory=None)
    for step in range(1000):            # the sender thread is busy streaming when we fork
        run.log("parent", float(step), step=step)
    run.flush()
    return run
"""

OS_FORK = PRELUDE + """
run = start_parent()
children = []
for i in range(3):
    pid = os.fork()
    if pid == 0:                        # the child logs into the inherited run
        log_points(run, f"fork{i}")
        if i == 0:
            run.flush()
            os._exit(0)                 # os._exit skips atexit: flush first
        sys.exit(0)                     # a normal exit flushes at exit
    children.append(pid)
codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
run.log("parent_after", 1.0, step=0)
run.complete()
print(json.dumps({"run_id": run.id, "codes": codes}))
"""

MP_PROCESS = PRELUDE + """
def child(run, i):
    log_points(run, f"{METHOD}{i}")      # fork: no flush needed, multiprocessing's exit flushes

def spawned(run_id, i):
    log_points(Run.get_context(), f"{METHOD}{i}")   # TAILRUN_RUN_ID names the parent's run

METHOD = os.environ["METHOD"]
if __name__ == "__main__":
    run = start_parent()
    ctx = mp.get_context(METHOD)
    if METHOD == "spawn":
        os.environ["TAILRUN_RUN_ID"], os.environ["TAILRUN_EXPERIMENT"] = run.id, "mp"
        procs = [ctx.Process(target=spawned, args=(run.id, i)) for i in range(3)]
    else:
        procs = [ctx.Process(target=child, args=(run, i)) for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    os.environ.pop("TAILRUN_RUN_ID", None)
    run.complete()
    print(json.dumps({"run_id": run.id, "codes": [p.exitcode for p in procs]}))
"""

# Like a DataLoader: a pool of workers, each loading items and logging per item, while the
# parent keeps training (and logging) on what they return.
LOADER = PRELUDE + """
ITEMS = 400
_run = None

def init_worker(run_id):
    global _run
    _run = Run.get(Workspace(), run_id)             # a worker attaches to the parent's run by id

def load(i):
    _run.log("loader/item", float(i), step=i)
    return i * i

if __name__ == "__main__":
    run = start_parent()
    ctx = mp.get_context(os.environ["METHOD"])
    with ctx.Pool(4, initializer=init_worker, initargs=(run.id,)) as pool:
        for step, value in enumerate(pool.imap(load, range(ITEMS), chunksize=8)):
            run.log("train/value", float(value), step=step)
        pool.close()
        pool.join()
    run.complete()
    print(json.dumps({"run_id": run.id, "codes": [0]}))
"""


def _parent(service: Any, tmp_path: Path, code: str, **env: str) -> tuple[Client, str]:
    done = run_script(code, script_env(tmp_path / "home", service.address, **env), tmp_path / "cwd",
                      timeout=NO_HANG_SECONDS)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["codes"] == [0] * len(report["codes"]), report
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    client = Client(Settings(address=service.address, token=None))
    assert client.get_run(report["run_id"]).status == "Completed"
    return client, report["run_id"]


def _series(client: Client, run_id: str) -> dict[str, dict[int, float]]:
    """name -> {step: value}; fails on a duplicated step."""
    out: dict[str, dict[int, float]] = {}
    for chunk in client.get_metrics(run_id):
        points = out.setdefault(chunk.name, {})
        for step, value in zip(chunk.steps, chunk.columns[0].values):
            assert step not in points, f"{chunk.name}: step {step} stored twice"
            points[step] = value
    return out


def _assert_children(series: dict[str, dict[int, float]], names: list[str]) -> None:
    assert series["parent"] == {s: float(s) for s in range(1000)}
    for name in names:
        assert series.get(name) == {s: s * 2.0 for s in range(500)}, f"{name}: points missing"


def test_os_fork_children_log_into_the_parents_run(service: Any, tmp_path: Path) -> None:
    client, run_id = _parent(service, tmp_path, OS_FORK)
    series = _series(client, run_id)
    _assert_children(series, ["fork0", "fork1", "fork2"])
    assert series["parent_after"] == {0: 1.0}


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_children_log_into_the_parents_run(service: Any, tmp_path: Path, method: str) -> None:
    client, run_id = _parent(service, tmp_path, MP_PROCESS, METHOD=method)
    _assert_children(_series(client, run_id), [f"{method}{i}" for i in range(3)])


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_dataloader_like_worker_pool_logs_every_item(service: Any, tmp_path: Path, method: str) -> None:
    client, run_id = _parent(service, tmp_path, LOADER, METHOD=method)
    series = _series(client, run_id)
    assert series["loader/item"] == {i: float(i) for i in range(400)}
    assert series["train/value"] == {i: float(i * i) for i in range(400)}


# A worker ended by SIGTERM (a Pool's terminate()) while it is inside the recorder: the signal
# handler flushes, and must not wait on a lock the code it interrupted holds. The signal is sent
# from inside the code that holds it, so it arrives there every time.
SIGTERM_INSIDE = PRELUDE + """
import contextlib, signal
import tailrun._recorder as recorder_module
import tailrun._lifecycle as lifecycle_module, tailrun._run_console as console_module
WHERE = os.environ["WHERE"]
LOCKS = {"thread_lock": lambda: run._recorder()._lock, "lifecycle_lock": lambda: lifecycle_module._lock,
         "console_lock": lambda: console_module._lock}

def interrupted_inside(rec):
    if WHERE in LOCKS:                     # Recorder._ensure_thread, _lifecycle.register, _run_console.attach
        with LOCKS[WHERE]():
            os.kill(os.getpid(), signal.SIGTERM)
        return
    # _begin_exit's wake-up (a worker draining at exit): the signal arrives inside wake.set(),
    # while it holds what set() holds (a threading.Event: its condition's lock).
    wake = rec._wake
    cls, original, fired = type(wake), type(wake).set, []
    def set_with_sigterm(self):
        if self is wake and not fired:
            fired.append(True)
            with getattr(self, "_cond", None) or contextlib.nullcontext():
                os.kill(os.getpid(), signal.SIGTERM)
        return original(self)
    cls.set = set_with_sigterm
    recorder_module._begin_exit()

run = start_parent()
pid = os.fork()
if pid == 0:                               # a pool worker: logs, then is terminated
    if WHERE != "wake" and WHERE != "thread_lock":   # a run of its own, which the handler cancels
        run = Experiment(Workspace(), "mp").start_logging(outputs=False, snapshot_directory=None)
        print("WORKER_RUN", run.id, flush=True)
    log_points(run, "worker")
    interrupted_inside(run._recorder())
    os._exit(0)                            # not reached: SIGTERM's default action ends it
deadline = time.monotonic() + 60
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if time.monotonic() > deadline:        # the deadlock: say so instead of hanging the test
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        print(json.dumps({"run_id": run.id, "codes": ["hung"]}))
        sys.exit(0)
    time.sleep(0.05)
run.complete()                             # (uploads the worker's spool if its grpc broke in the fork)
print(json.dumps({"run_id": run.id, "codes": [os.waitstatus_to_exitcode(status)]}))
"""


@pytest.mark.parametrize("where", ["wake", "thread_lock", "lifecycle_lock", "console_lock"])
def test_sigterm_inside_the_sdk_neither_hangs_nor_loses_points(service: Any, tmp_path: Path, where: str) -> None:
    done = run_script(SIGTERM_INSIDE, script_env(tmp_path / "home", service.address, WHERE=where),
                      tmp_path / "cwd", timeout=NO_HANG_SECONDS)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["codes"] == [-15], f"the worker did not end by its SIGTERM: {report['codes']}"
    client = Client(Settings(address=service.address, token=None))
    own = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("WORKER_RUN ")]
    run_id = own[0] if own else report["run_id"]
    series = _series(client, run_id)
    assert series["worker"] == {s: s * 2.0 for s in range(500)}, "the worker's points were not flushed"
    if own:   # the handler marked the worker's own run, as for any SIGTERM
        info = client.get_run(run_id)
        assert (info.status, "stopped by SIGTERM" in info.error_json) == ("Canceled", True), info

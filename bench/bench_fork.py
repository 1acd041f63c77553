"""Forked children of a process that streams: how many are killed, how many points are lost.

Each parent process starts a run, logs once and at once (its sender is still connecting, as
when a DataLoader forks right after the first log) forks ROUND children from the main thread,
while a thread of it logs without pause; FORKS / ROUND such parents run one after the other.
A third of the children log nothing and end with `os._exit(0)` (a DataLoader worker), a third
log nothing and exit normally, a third log POINTS points into the parent's run and exit
normally. It counts the children ended by a signal, the points of the logging children the
service does not have at each parent's end, and how long after the children ended their points
were all stored (the parent still running).

    python bench/bench_fork.py [FORKS]     # default 600
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time

FORKS = int(sys.argv[1]) if len(sys.argv) > 1 else 600
POINTS = 50
ROUND = 20


def child(run, i: int) -> None:
    if i % 3 == 0:          # (a) a DataLoader worker that logs nothing
        os._exit(0)
    if i % 3 == 1:          # (a') a child that logs nothing and exits normally
        sys.exit(0)
    for step in range(POINTS):
        run.log(f"c{i}", float(step), step=step)
    sys.exit(0)             # (b) logs, exits normally (its exit drains)


def logging_children(forks: int) -> range:
    return range(2, forks, 3)


def main() -> dict:
    """The service, and the forking parent in a process of its own (a child's normal exit
    unwinds the parent's frames: none of them may stop the service)."""
    import subprocess

    from _service import service_process
    totals: dict = {}
    with service_process() as (address, _, _pid):
        for _ in range(max(1, FORKS // ROUND)):
            done = subprocess.run([sys.executable, __file__, str(ROUND), address], text=True,
                                  stdout=subprocess.PIPE, timeout=900, check=True)
            for key, value in json.loads(done.stdout.strip().splitlines()[-1]).items():
                if isinstance(value, list):
                    totals[key] = sorted(set(totals.get(key, [])) | set(value))
                elif isinstance(value, (int, float)) and key != "live_wait_seconds":
                    totals[key] = round(totals.get(key, 0) + value, 1)
                elif key == "live_wait_seconds":
                    totals[key] = max(totals.get(key, 0), value)
                else:
                    totals[key] = value
    return totals


def parent(address: str) -> dict:
    from tailrun import Experiment, Workspace
    from tailrun.client import Client
    from tailrun._settings import Settings

    if True:
        run = Experiment(Workspace(address=address), "bench-fork").start_logging(
            outputs=False, snapshot_directory=None)
        stop = threading.Event()

        def parent_logs() -> None:
            step = 0
            while not stop.is_set():
                run.log("parent", float(step), step=step)
                step += 1
                if step % 100 == 0:
                    time.sleep(0.001)

        run.log("first", 1.0)     # the sender starts connecting: fork at once
        logger = threading.Thread(target=parent_logs, daemon=True)
        logger.start()
        alive: dict[int, tuple[int, float]] = {}
        codes: dict[int, int] = {}
        ended: dict[int, float] = {}
        t0 = time.monotonic()

        def reap(block: bool) -> None:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
            if pid:
                i, _ = alive.pop(pid)
                codes[i] = os.waitstatus_to_exitcode(status)
                ended[i] = time.monotonic()

        for i in range(FORKS):
            pid = os.fork()
            if pid == 0:
                child(run, i)
            alive[pid] = (i, time.monotonic())
        while alive:
            reap(True)
        fork_seconds = time.monotonic() - t0
        client = Client(Settings(address=address, token=None))
        # Live delivery: how long after the last child ended are all their points stored?
        loggers = [i for i in logging_children(FORKS) if codes[i] == 0]
        t_end = time.monotonic()
        stored: dict[str, int] = {}
        while time.monotonic() - t_end < 15:
            stored = {c.name: len(c.steps) for c in client.get_metrics(run.id)}
            if all(stored.get(f"c{i}") == POINTS for i in loggers):
                break
            time.sleep(0.2)
        live_seconds = time.monotonic() - t_end
        live_missing = sum(POINTS - stored.get(f"c{i}", 0) for i in logging_children(FORKS))
        stop.set()
        logger.join()
        run.complete()
        stored = {c.name: len(c.steps) for c in client.get_metrics(run.id)}
        killed = {i: code for i, code in codes.items() if code < 0}
        failed = {i: code for i, code in codes.items() if code > 0}
        lost = sum(POINTS - stored.get(f"c{i}", 0) for i in logging_children(FORKS))
        return {
            "bench": "fork", "forks": FORKS, "fork_seconds": round(fork_seconds, 1),
            "killed": len(killed), "killed_silent": sum(1 for i in killed if i % 3 != 2),
            "killed_logging": sum(1 for i in killed if i % 3 == 2), "signals": sorted(set(killed.values())),
            "failed": len(failed), "points_lost_at_end": lost,
            "points_missing_live": live_missing, "live_wait_seconds": round(live_seconds, 1),
            "duplicated": sum(1 for i in logging_children(FORKS) if stored.get(f"c{i}", 0) > POINTS),
        }


if __name__ == "__main__":
    print(json.dumps(parent(sys.argv[2]) if len(sys.argv) > 2 else main()), flush=True)

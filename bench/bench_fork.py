"""Forked children of a process that streams: how many are killed, how many points are lost.

The parent logs from a thread without pause (its sender streams all the time) and forks
FORKS children from the main thread, up to 8 alive at once, as DataLoader workers and
`multiprocessing.Pool` workers are forked. Half the children log nothing and end with
`os._exit(0)` (a DataLoader worker), half log POINTS points into the parent's run and exit
normally. It counts the children ended by a signal, and the points of the logging children the
service does not have at the parent's end (and, per child, how long its points took to arrive).

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
ALIVE = 8


def child(run, i: int) -> None:
    if i % 2 == 0:          # (a) a DataLoader worker that logs nothing
        os._exit(0)
    for step in range(POINTS):
        run.log(f"c{i}", float(step), step=step)
    sys.exit(0)             # (b) logs, exits normally (its exit drains)


def main() -> dict:
    """The service, and the forking parent in a process of its own (a child's normal exit
    unwinds the parent's frames: none of them may stop the service)."""
    import subprocess

    from _service import service_process
    with service_process() as (address, _, _pid):
        done = subprocess.run([sys.executable, __file__, str(FORKS), address], text=True,
                              stdout=subprocess.PIPE, timeout=900, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])


def parent(address: str) -> dict:
    from tailrun import Experiment, Workspace
    from tailrun._client import Client
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

        logger = threading.Thread(target=parent_logs, daemon=True)
        logger.start()
        run.flush(30)
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
            while len(alive) >= ALIVE:
                reap(True)
            pid = os.fork()
            if pid == 0:
                child(run, i)
            alive[pid] = (i, time.monotonic())
        while alive:
            reap(True)
        fork_seconds = time.monotonic() - t0
        client = Client(Settings(address=address, token=None))
        # Live delivery: how long after the last child ended are all their points stored?
        loggers = [i for i in range(FORKS) if i % 2 and codes[i] == 0]
        t_end = time.monotonic()
        stored: dict[str, int] = {}
        while time.monotonic() - t_end < 15:
            stored = {c.name: len(c.steps) for c in client.get_metrics(run.id)}
            if all(stored.get(f"c{i}") == POINTS for i in loggers):
                break
            time.sleep(0.2)
        live_seconds = time.monotonic() - t_end
        live_missing = sum(POINTS - stored.get(f"c{i}", 0) for i in range(1, FORKS, 2))
        stop.set()
        logger.join()
        run.complete()
        stored = {c.name: len(c.steps) for c in client.get_metrics(run.id)}
        killed = {i: code for i, code in codes.items() if code < 0}
        failed = {i: code for i, code in codes.items() if code > 0}
        lost = sum(POINTS - stored.get(f"c{i}", 0) for i in range(1, FORKS, 2))
        return {
            "bench": "fork", "forks": FORKS, "fork_seconds": round(fork_seconds, 1),
            "killed": len(killed), "killed_silent": sum(1 for i in killed if i % 2 == 0),
            "killed_logging": sum(1 for i in killed if i % 2), "signals": sorted(set(killed.values())),
            "failed": len(failed), "points_lost_at_end": lost,
            "points_missing_live": live_missing, "live_wait_seconds": round(live_seconds, 1),
            "duplicated": sum(1 for i in range(1, FORKS, 2) if stored.get(f"c{i}", 0) > POINTS),
        }


if __name__ == "__main__":
    print(json.dumps(parent(sys.argv[2]) if len(sys.argv) > 2 else main()), flush=True)

"""Cost of `run.log(name, float)` in the calling thread, beside a bare deque.append of the same tuple.

Both loops run in the same process, with the sender thread live and a real service draining it,
so the figure includes whatever the background work costs the caller through the GIL.
"""
from __future__ import annotations

import collections
import statistics
import time

N = 200_000


def bare_deque_us() -> float:
    q = collections.deque()
    append, now = q.append, time.time
    t0 = time.perf_counter()
    for i in range(N):
        append((0, "run-id", "loss", 0.5, None, now()))
    return (time.perf_counter() - t0) / N * 1e6


def run_log_us(run) -> float:
    log = run.log
    t0 = time.perf_counter()
    for i in range(N):
        log("loss", 0.5)
    return (time.perf_counter() - t0) / N * 1e6


def main() -> dict:
    from _service import service_process
    from tailrun import Experiment, Workspace
    with service_process() as (address, _, _pid):
        ws = Workspace(address=address)
        run = Experiment(ws, "bench-log").start_logging(outputs=False, snapshot_directory=None)
        rows = []
        for _ in range(3):
            d = bare_deque_us()
            r = run_log_us(run)
            rows.append((d, r))
            run.flush()
        run.complete()
    deque_us = statistics.median(d for d, _ in rows)
    log_us = statistics.median(r for _, r in rows)
    return {"deque_append_us": round(deque_us, 3), "run_log_us": round(log_us, 3),
            "ratio": round(log_us / deque_us, 2)}


if __name__ == "__main__":
    import json
    print(json.dumps(main()))

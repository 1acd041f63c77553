"""One timed submit for the submit benchmarks: from submit to the queue, to Running (seen on a
Watch stream) and to the script's first line, and each printed line's latency to a
wait_for_completion(show_output=True) watcher."""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable

# The submitted script: prints its start time, then `argv[1]` time-stamped lines 0.1 s apart.
SCRIPT = """\
import sys, time
print("START", time.time(), flush=True)
for i in range(int(sys.argv[1])):
    print("LINE", time.time(), flush=True)
    time.sleep(0.1)
"""


class _Arrivals:
    """A stand-in for the watcher's stdout that times each LINE as it arrives."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.start_seen: float | None = None
        self._buf = ""

    def write(self, text: str) -> None:
        now = time.time()
        self._buf += text
        *lines, self._buf = self._buf.split("\n")
        for line in lines:
            parts = line.split()
            if len(parts) == 2 and parts[0] == "LINE":
                self.latencies.append(now - float(parts[1]))
            elif len(parts) == 2 and parts[0] == "START":
                self.start_seen = float(parts[1])

    def flush(self) -> None:
        pass


@dataclass
class Timing:
    to_submitted: float      # s from submit to its return
    to_running: float        # s from submit to Running on the Watch stream
    to_script_start: float   # s from submit to the script's first line's time stamp
    line_latencies: list[float]


def timed_submit(ws: Any, experiment: str, submit: Callable[[], Any],
                 submitted: Callable[[Any], None] = lambda run: None) -> Timing:
    """Submit with `submit()` (it returns the Run; `submitted(run)` checks it once submit has
    returned), wait for it with show_output=True and time it all."""
    from tailrun._script_wait import wait

    watch = ws._client().watch(experiment=experiment, kinds=["status"])
    events = iter(watch)
    next(e for e in events if e.caught_up)
    t0 = time.time()
    run = submit()
    to_submitted = time.time() - t0
    submitted(run)
    to_running = float("nan")
    for event in events:
        if event.WhichOneof("kind") == "run" and event.run.run_id == run.id and event.run.status == "Running":
            to_running = time.time() - t0
            break
    watch.cancel()
    out = _Arrivals()
    wait(run, show_output=True, raise_on_error=True, out=out)
    return Timing(to_submitted, to_running, out.start_seen - t0, out.latencies)


def line_latency_summary(latencies: list[float]) -> dict[str, float | int]:
    """The line-latency figures of a benchmark's JSON line (seconds)."""
    latencies = sorted(latencies)
    return {
        "line_latency_s_median": round(statistics.median(latencies), 3),
        "line_latency_s_p95": round(latencies[int(len(latencies) * 0.95) - 1], 3),
        "line_latency_s_max": round(latencies[-1], 3),
    }

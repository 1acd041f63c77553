"""Watch: live `metrics` events to several watchers while a run logs at full speed, then one
client resuming from cursor 0, with the service's CPU per point.

A writer child logs 10 metrics x 100,000 steps (as bench_e2e) into a fresh service; WATCHERS
threads here each watch the experiment's metrics and count points until they have them all.
The same is run with no watcher, so the difference is what watching costs the service. The
resuming client reads the same service (its recent chunks are still in memory) and a second
service started on the same data (which has nothing in memory: every chunk is read from the store).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

METRICS, STEPS = 10, 100_000
WATCHERS = 4
EXPERIMENT = "bench-watch"
CHILD = r"""
import json, os, time
from tailrun import Experiment, Workspace
ws = Workspace(address=os.environ["BENCH_ADDRESS"])
run = Experiment(ws, "%(experiment)s").start_logging(outputs=False, snapshot_directory=None)
names = [f"metric_{m}" for m in range(%(metrics)d)]
log = run.log
for step in range(%(steps)d):
    v = step * 0.001
    for name in names:
        log(name, v, step=step)
run.complete()
print(json.dumps({"completed_at": time.time(), "run_id": run.id}))
""" % {"metrics": METRICS, "steps": STEPS, "experiment": EXPERIMENT}
POINTS = METRICS * STEPS


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Watcher(threading.Thread):
    """Counts the metric points a Watch stream delivers; done when it has `POINTS`."""

    def __init__(self, client, **request) -> None:
        super().__init__(daemon=True)
        self.watch = client.watch(experiment=EXPERIMENT, kinds=["metrics"], **request)
        self.points = 0
        self.first = self.last = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        for event in self.watch:
            if event.WhichOneof("kind") != "metrics":
                continue
            if not self.points:
                self.first = time.time()
            self.points += len(event.metrics.times)
            if self.points >= POINTS:
                self.last = time.time()
                self.done.set()
                return


def phase(watchers: int) -> dict:
    """One fresh service: the writer with `watchers` live watchers, then one resuming watcher."""
    from _service import service_process
    from tailrun import Workspace
    with service_process() as (address, data, pid):
        client = Workspace(address=address)._client()
        live = [Watcher(client) for _ in range(watchers)]
        for w in live:
            w.start()
        env = dict(os.environ, BENCH_ADDRESS=address)
        cpu0, t0 = cpu_seconds(pid), time.time()
        out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        for w in live:
            if not w.done.wait(120):
                raise RuntimeError(f"a watcher got {w.points} of {POINTS} points")
        cpu_live = cpu_seconds(pid) - cpu0
        result = {"watchers": watchers, "writer_s": round(res["completed_at"] - t0, 2),
                  "service_cpu_us_per_point": round(cpu_live / POINTS * 1e6, 3)}
        if live:
            result["last_point_after_complete_s"] = round(max(w.last for w in live) - res["completed_at"], 3)
            result["live_points_per_s_per_watcher"] = round(
                min(POINTS / (w.last - w.first) for w in live))
        result["resume_points_per_s"], result["resume_service_cpu_us_per_point"] = resume(client, pid)
        for w in live:
            w.watch.cancel()
        with service_process(data_dir=data) as (replica_address, _data, replica_pid):
            replica = Workspace(address=replica_address)._client()
            result["resume_from_store_points_per_s"], result["resume_from_store_cpu_us_per_point"] = \
                resume(replica, replica_pid)
            replica.close()
        client.close()
    return result


def resume(client, pid: int) -> tuple[int, float]:
    """(points/s, the service's CPU µs per point) of one client watching from cursor 0."""
    cpu = cpu_seconds(pid)
    watcher = Watcher(client, from_start=True)
    watcher.start()
    if not watcher.done.wait(300):
        raise RuntimeError(f"the resuming watcher got {watcher.points} of {POINTS} points")
    watcher.watch.cancel()
    return round(POINTS / (watcher.last - watcher.first)), round((cpu_seconds(pid) - cpu) / POINTS * 1e6, 3)


def main() -> dict:
    alone, watched = phase(0), phase(WATCHERS)
    extra = watched["service_cpu_us_per_point"] - alone["service_cpu_us_per_point"]
    return {"points": POINTS, "no_watcher": alone, "watched": watched,
            "service_cpu_us_per_point_per_watcher": round(extra / WATCHERS, 3)}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    print(json.dumps(main()))

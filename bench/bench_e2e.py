"""End to end: 10 metrics x 100,000 steps logged in a tight loop until `complete()` returns.

complete() flushes and waits for the service's acks, which it sends only after the commit, so the
clock stops when every point is stored. Also reports the SDK process's peak RSS.
"""
from __future__ import annotations

import os
import subprocess
import sys
import json
from pathlib import Path

METRICS, STEPS = 10, 100_000
CHILD = r"""
import json, os, sys, time
sys.path.insert(0, os.environ["BENCH_DIR"])
from _service import peak_rss_mib
from tailrun import Experiment, Workspace
ws = Workspace(address=os.environ["BENCH_ADDRESS"])
run = Experiment(ws, "bench-e2e").start_logging(outputs=False, snapshot_directory=None)
names = [f"metric_{m}" for m in range(%(metrics)d)]
log = run.log
t0 = time.perf_counter()
for step in range(%(steps)d):
    v = step * 0.001
    for name in names:
        log(name, v, step=step)
t_loop = time.perf_counter() - t0
run.complete()
t_all = time.perf_counter() - t0
print(json.dumps({"loop_s": t_loop, "total_s": t_all, "peak_rss_mib": peak_rss_mib(),
                  "run_id": run.id}))
""" % {"metrics": METRICS, "steps": STEPS}


def main() -> dict:
    from _service import service_process
    with service_process() as (address, _data, pid):
        env = dict(os.environ, BENCH_ADDRESS=address, BENCH_DIR=str(Path(__file__).parent))
        out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                             text=True, check=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        from tailrun import Run, Workspace
        stored = Run.get(Workspace(address=address), res["run_id"]).get_metrics()
        n_stored = sum(len(v) for v in stored.values())
    points = METRICS * STEPS
    return {"points": points, "stored": n_stored,
            "points_per_s": round(points / res["total_s"]),
            "loop_only_points_per_s": round(points / res["loop_s"]),
            "total_s": round(res["total_s"], 3), "sdk_peak_rss_mib": round(res["peak_rss_mib"], 1)}


if __name__ == "__main__":
    import json
    print(json.dumps(main()))

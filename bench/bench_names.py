"""Many metric names in one run: N distinct names (100, 1,000, 10,000), 1 and 10 points each,
logged and then `complete()`; how long complete() takes (it waits until the service has stored
everything) and the service's CPU seconds for the run. Ingest should grow linearly with N.

`--store URL` runs the service on that store (e.g. postgresql+psycopg://postgres@127.0.0.1/db).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SIZES = (100, 1_000, 10_000)
POINTS = (1, 10)
CHILD = r"""
import json, os, time
from tailrun import Experiment, Workspace
ws = Workspace(address=os.environ["BENCH_ADDRESS"])
run = Experiment(ws, "bench-names").start_logging(outputs=False, snapshot_directory=None)
run.flush()
names, points = int(os.environ["BENCH_NAMES"]), int(os.environ["BENCH_POINTS"])
for step in range(points):
    for i in range(names):
        run.log(f"metric_{i:05d}", step * 0.5 + i, step=step)
t0 = time.perf_counter()
run.complete()
print(json.dumps({"complete_s": time.perf_counter() - t0, "run_id": run.id}))
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def chunk_count(data_dir: Path, run_id: str) -> int:
    """How many chunks the points were stored in (one per metric per batch that had it)."""
    import sqlite3
    with sqlite3.connect(f"file:{data_dir / 'tailrun.db'}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM metric_chunks JOIN metrics ON metrics.id = metric_chunks.metric_id "
                          "WHERE metrics.run_id = ?", (run_id,)).fetchone()[0]


def main(argv: list[str]) -> dict:
    from _service import service_process
    store = argv[argv.index("--store") + 1] if "--store" in argv else None
    results = {}
    with service_process(store) as (address, data_dir, pid):
        from tailrun import Run, Workspace
        for points in POINTS:
            for names in SIZES:
                env = dict(os.environ, BENCH_ADDRESS=address, BENCH_NAMES=str(names), BENCH_POINTS=str(points),
                           TAILRUN_SYSTEM_METRICS="0")
                cpu0 = cpu_seconds(pid)
                out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
                                     check=True)
                cpu = cpu_seconds(pid) - cpu0
                res = json.loads(out.stdout.strip().splitlines()[-1])
                stored = Run.get(Workspace(address=address), res["run_id"]).get_metrics()
                assert len(stored) == names, (len(stored), names)
                results[f"{names}x{points}"] = {"complete_s": round(res["complete_s"], 3),
                                                "service_cpu_s": round(cpu, 2),
                                                "chunks": chunk_count(data_dir, res["run_id"]) if not store else None}
    return results


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))

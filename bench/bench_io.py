"""Import and export speed (issue 11 targets): `tailrun import tensorboard` of a 1,000,000-point log (≤ 10 s) and
`tailrun metrics RUN --format parquet` of 1,000,000 points (≤ 2 s), each timed end to end as the
user runs it (a fresh `tailrun` process against a service in another process), median of 3.

The event file holds one scalar tag with 1,000,000 steps, written with TensorBoard's own record
writer (its CRCs in pure Python make writing it take a while; that is not timed). The export's run
holds the same points logged with `run.log(name, value, step=...)`. Breakdowns (in-process): the
import's read phase (parse the file) and write phase (queue, send, stored), and the export's fetch
(GetMetrics + decode) and Parquet write.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _service import service_process

N = 1_000_000
REPEAT = 3


def write_event_file(folder: Path, n: int) -> None:
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.record_writer import RecordWriter

    folder.mkdir(parents=True)
    with open(folder / f"events.out.tfevents.1700000000.bench.{os.getpid()}.0", "wb") as fh:
        writer = RecordWriter(fh)
        writer.write(Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())
        value = Summary.Value(tag="loss", simple_value=0.0)
        event = Event(summary=Summary(value=[value]))
        for i in range(n):
            event.wall_time = 1.7e9 + i * 0.001
            event.step = i
            event.summary.value[0].simple_value = 1.0 / (i + 1)
            writer.write(event.SerializeToString())


def timed_cli(address: str, *args: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tailrun.cli", *args, "--address", address],
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"tailrun {' '.join(args)} failed: {proc.stderr}")
    return elapsed, proc.stdout


def bench_tensorboard_import(address: str, tmp: Path) -> dict:
    from tailrun import Workspace
    from tailrun.importers.common import write_runs
    from tailrun.importers.tensorboard import read_logdir

    logs = tmp / "logs"
    write_event_file(logs / "run", N)
    times = []
    for i in range(REPEAT):
        # a new experiment name each time; the source id is the same, so the earlier import is
        # found and skipped: copy the file under a new name to import it again
        folder = tmp / f"logs{i}" / "run"
        folder.mkdir(parents=True)
        for f in (logs / "run").iterdir():
            os.link(f, folder / f.name.replace(".0", f".{i + 1}"))
        elapsed, out = timed_cli(address, "import", "tensorboard", str(folder.parent), "--experiment", f"bench-{i}")
        assert len(out.split()) == 1, out
        times.append(elapsed)
    # in-process breakdown
    t0 = time.perf_counter()
    runs = read_logdir(str(logs), "bench-split", Counter())
    t1 = time.perf_counter()
    write_runs(Workspace(address=address), runs, log=open(os.devnull, "w"))
    t2 = time.perf_counter()
    return {"tensorboard import 1M points (CLI, median)": f"{statistics.median(times):.2f} s",
            "  read (CRCs checked) + parse": f"{t1 - t0:.2f} s",
            "  queue + send + stored": f"{t2 - t1:.2f} s"}


def bench_parquet_export(address: str, tmp: Path) -> dict:
    from tailrun import Experiment, Workspace
    from tailrun.metrics_table import metric_table, write_parquet

    ws = Workspace(address=address)
    run = Experiment(ws, "bench-export").start_logging(outputs=False)
    log = run.log
    for i in range(N):
        log("loss", 1.0 / (i + 1), step=i)
    run.complete()
    times = []
    for i in range(REPEAT):
        elapsed, _ = timed_cli(address, "metrics", run.id, "--format", "parquet", "-o", str(tmp / f"m{i}.parquet"))
        times.append(elapsed)
    import pyarrow.parquet as pq
    assert pq.read_metadata(tmp / "m0.parquet").num_rows == N
    client = ws._client()
    t0 = time.perf_counter()
    table = metric_table(client.get_metrics(run.id))
    t1 = time.perf_counter()
    write_parquet(table, str(tmp / "split.parquet"))
    t2 = time.perf_counter()
    return {"parquet export 1M points (CLI, median)": f"{statistics.median(times):.2f} s",
            "  fetch + decode": f"{t1 - t0:.2f} s",
            "  write parquet": f"{t2 - t1:.2f} s"}


def main() -> dict:
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="tailrun-bench-io-") as tmp, service_process() as (address, _, _):
        results.update(bench_parquet_export(address, Path(tmp)))
        results.update(bench_tensorboard_import(address, Path(tmp)))
    return results


if __name__ == "__main__":
    for key, value in (result := main()).items():
        print(f"{key}: {value}", file=sys.stderr)
    print(json.dumps(result))

"""Reading back: get_metrics on a 1,000,000-point series, and the downsampled plot query."""
from __future__ import annotations

import statistics
import time

N = 1_000_000


def main() -> dict:
    from _service import service_process
    from tailrun import Experiment, Workspace
    from tailrun.client import Client
    with service_process() as (address, _, _pid):
        ws = Workspace(address=address)
        run = Experiment(ws, "bench-query").start_logging(outputs=False, snapshot_directory=None)
        for i in range(N):
            run.log("loss", 1.0 / (i + 1), step=i)
        run.complete()
        full = []
        for _ in range(3):
            t0 = time.perf_counter()
            values = run.get_metrics("loss")["loss"]
            full.append(time.perf_counter() - t0)
            assert len(values) == N
        from tailrun.v1 import tailrun_pb2 as pb
        client = Client(ws._settings)
        down = []
        for _ in range(5):
            t0 = time.perf_counter()
            resp = client.get_series(pb.SeriesRequest(run_id=run.id, name="loss", max_points=1000))
            down.append(time.perf_counter() - t0)
            assert len(resp.x) <= 1000
    return {"get_metrics_1M_s": round(statistics.median(full), 3),
            "downsampled_1000_ms": round(statistics.median(down) * 1000, 1)}


if __name__ == "__main__":
    import json
    print(json.dumps(main()))

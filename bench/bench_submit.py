"""Submit to Running for a user-managed environment, and the latency of a printed line reaching
a wait_for_completion(show_output=True) watcher (targets: <= 1 s and <= 0.5 s)."""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _service import service_process  # noqa: E402

SCRIPT = """\
import sys, time
print("START", time.time(), flush=True)
for i in range(int(sys.argv[1])):
    print("LINE", time.time(), flush=True)
    time.sleep(0.1)
"""


class _Arrivals:
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


def main(runs: int = 5, lines: int = 20) -> dict:
    from tailrun import Environment, Experiment, ScriptRunConfig, Workspace
    from tailrun._script_wait import wait

    with service_process() as (address, _data_dir, _pid), tempfile.TemporaryDirectory() as src:
        Path(src, "bench.py").write_text(SCRIPT)
        ws = Workspace(address=address)
        exp = Experiment(ws, "bench-submit")
        env = Environment("user-managed")
        env.python.user_managed_dependencies = True
        to_running, to_script, latencies = [], [], []
        for _ in range(runs):
            watch = ws._client().watch(experiment="bench-submit", kinds=["status"])
            events = iter(watch)
            next(e for e in events if e.caught_up)
            t0 = time.time()
            run = exp.submit(ScriptRunConfig(src, script="bench.py", arguments=[lines], environment=env))
            for event in events:
                if event.WhichOneof("kind") == "run" and event.run.run_id == run.id and event.run.status == "Running":
                    to_running.append(time.time() - t0)
                    break
            watch.cancel()
            out = _Arrivals()
            wait(run, show_output=True, raise_on_error=True, out=out)
            to_script.append(out.start_seen - t0)
            latencies += out.latencies
        latencies.sort()
        return {
            "submit_to_running_s_median": round(statistics.median(to_running), 3),
            "submit_to_running_s_max": round(max(to_running), 3),
            "submit_to_script_start_s_median": round(statistics.median(to_script), 3),
            "line_latency_s_median": round(statistics.median(latencies), 3),
            "line_latency_s_p95": round(latencies[int(len(latencies) * 0.95) - 1], 3),
            "line_latency_s_max": round(latencies[-1], 3),
            "lines": len(latencies),
        }


if __name__ == "__main__":
    import json
    print(json.dumps(main()))

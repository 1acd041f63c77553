"""Submit to Running for a user-managed environment, and the latency of a printed line reaching
a wait_for_completion(show_output=True) watcher (targets: <= 1 s and <= 0.5 s)."""
from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _service import service_process  # noqa: E402
from _timed_submit import SCRIPT, line_latency_summary, timed_submit  # noqa: E402


def main(runs: int = 5, lines: int = 20) -> dict:
    from tailrun import Environment, Experiment, ScriptRunConfig, Workspace

    with service_process() as (address, _data_dir, _pid), tempfile.TemporaryDirectory() as src:
        Path(src, "bench.py").write_text(SCRIPT)
        ws = Workspace(address=address)
        exp = Experiment(ws, "bench-submit")
        env = Environment("user-managed")
        env.python.user_managed_dependencies = True
        timings = [timed_submit(ws, "bench-submit", lambda: exp.submit(
            ScriptRunConfig(src, script="bench.py", arguments=[lines], environment=env))) for _ in range(runs)]
        to_running = [t.to_running for t in timings]
        latencies = [x for t in timings for x in t.line_latencies]
        return {
            "submit_to_running_s_median": round(statistics.median(to_running), 3),
            "submit_to_running_s_max": round(max(to_running), 3),
            "submit_to_script_start_s_median": round(statistics.median(t.to_script_start for t in timings), 3),
            **line_latency_summary(latencies),
            "lines": len(latencies),
        }


if __name__ == "__main__":
    import json
    print(json.dumps(main()))

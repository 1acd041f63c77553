"""Runs on a Slurm target, on a real one-node Slurm cluster started for the benchmark (the test
fixture's, tests/slurm/conftest.py; needs root and the slurm-wlm and munge packages):

- submit -> the job is in Slurm's queue (submit returns after sbatch), and -> Running (Watch);
- a printed line -> a wait_for_completion(show_output=True) watcher (target <= 1 s);
- 50 queued (held) jobs do not slow the service's other RPCs: GetRun and a logged-and-flushed
  metric, with 0 and with 50 jobs polled (one squeue call per interval for all of them).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests" / "slurm")]

from _timed_submit import SCRIPT, line_latency_summary, timed_submit  # noqa: E402

QUEUED_JOBS = 50


def _service(tmp: Path, conf: Path) -> tuple[subprocess.Popen, str]:
    config = tmp / "compute.toml"
    config.write_text(f"""
[targets.cpu]
kind = "slurm"
partition = "debug"
work_dir = "{tmp}/node-work"

[targets.held]
kind = "slurm"
partition = "debug"
work_dir = "{tmp}/node-work"
sbatch_args = ["--hold"]
""")
    port_file = tmp / "port"
    cmd = [sys.executable, "-m", "tailrun_service", "--port", "0", "--port-file", str(port_file), "--data-dir",
           str(tmp / "data"), "--compute-config", str(config), "--run-as", "root"]
    log = open(tmp / "service.log", "wb")
    proc = subprocess.Popen(cmd, env=dict(os.environ, SLURM_CONF=str(conf)), stdout=log, stderr=log)
    while not port_file.exists() or not port_file.read_text().strip():
        if proc.poll() is not None:
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    return proc, f"127.0.0.1:{int(port_file.read_text())}"


def _rpc_latencies(ws, exp, samples: int = 200) -> tuple[float, float]:
    """Median GetRun and log+flush latency (ms) against one interactive run."""
    run = exp.start_logging(outputs=False)
    run.flush()
    client = ws._client()
    get, ingest = [], []
    for i in range(samples):
        t0 = time.perf_counter()
        client.get_run(run.id)
        get.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run.log("x", i)
        run.flush()
        ingest.append(time.perf_counter() - t0)
    run.complete()
    return round(statistics.median(get) * 1000, 2), round(statistics.median(ingest) * 1000, 2)


def main(runs: int = 5, lines: int = 20) -> dict:
    from slurmkit import SlurmCluster

    from tailrun import Experiment, ScriptRunConfig, Workspace

    with tempfile.TemporaryDirectory(prefix="tailrun-bench-slurm-") as name:
        tmp = Path(name)
        cluster = SlurmCluster(tmp / "cluster")
        cluster.folder.mkdir()
        cluster.write_config()
        os.environ["SLURM_CONF"] = str(cluster.conf)
        os.environ["TAILRUN_HOME"] = str(tmp / "home")
        cluster.start()
        proc = None
        try:
            proc, address = _service(tmp, cluster.conf)
            src = tmp / "src"
            src.mkdir()
            (src / "bench.py").write_text(SCRIPT)
            ws = Workspace(address=address)
            exp = Experiment(ws, "bench-slurm")

            def in_slurm_queue(run) -> None:
                job = run.get_properties()["slurm_job_id"]
                assert cluster.run("squeue", "--noheader", f"--jobs={job}", "--states=all").stdout.strip()

            timings = [timed_submit(ws, "bench-slurm", lambda: exp.submit(ScriptRunConfig(
                str(src), script="bench.py", arguments=[lines], compute_target="cpu")), in_slurm_queue)
                for _ in range(runs)]
            to_queue = [t.to_submitted for t in timings]
            idle = _rpc_latencies(ws, exp)
            held = Experiment(ws, "bench-slurm-held")
            for _ in range(QUEUED_JOBS):
                held.submit(ScriptRunConfig(str(src), script="bench.py", arguments=[1], compute_target="held"))
            t0 = time.perf_counter()
            cluster.run("squeue", "--noheader", "--states=all", "--Format=JobID:|,State:|,Reason:|,RestartCnt:|,exit_code:|,NodeList:")
            squeue_ms = round((time.perf_counter() - t0) * 1000, 1)
            busy = _rpc_latencies(ws, exp)
            return {
                "submit_to_slurm_queue_s_median": round(statistics.median(to_queue), 3),
                "submit_to_slurm_queue_s_max": round(max(to_queue), 3),
                "submit_to_running_s_median": round(statistics.median(t.to_running for t in timings), 3),
                **line_latency_summary([x for t in timings for x in t.line_latencies]),
                "get_run_ms_median_0_jobs": idle[0], f"get_run_ms_median_{QUEUED_JOBS}_jobs": busy[0],
                "log_flush_ms_median_0_jobs": idle[1], f"log_flush_ms_median_{QUEUED_JOBS}_jobs": busy[1],
                f"one_squeue_call_ms_{QUEUED_JOBS}_jobs": squeue_ms,
            }
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(30)
                sys.stderr.write((tmp / "service.log").read_text()[-3000:])
            cluster.stop()


if __name__ == "__main__":
    import json
    print(json.dumps(main(), indent=1))

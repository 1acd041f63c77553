"""How fast the terminal UI is (issue 3): its first frame, its CPU while tailing, and its latency.

1. first frame: time from starting `tailrun ui --run R` to its first complete frame, for a run with
   20 metrics × 1,000,000 points (on the Overview, and on the Metrics tab with every chart
   on screen fetched and drawn; the rest keep loading). The UI writes a timestamp to $TAILRUN_UI_READY_FILE at that moment.
2. tailing: the UI process's CPU (% of one core) while 10 runs each log 1,000 points/s, on the
   runs list and on one run's Metrics tab.
3. latency: a point logged with the SDK (`run.log`) until its value is on the screen (the runs
   list's metric column), and a key press (`2`, `3`: run tabs) until the new tab is drawn; read
   back with `tmux capture-pane`, polled every 10 ms (which adds a few ms).

The UI runs in a real terminal (tmux, 120×40). `python bench/bench_ui.py [--points N]`.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).parent))
from _service import service_process  # noqa: E402

from tailrun.v1 import tailrun_pb2 as pb  # noqa: E402
from tailrun.v1 import tailrun_pb2_grpc as pb_grpc  # noqa: E402

TAILRUN = str(Path(sys.executable).parent / "tailrun")
CHUNK = 100_000


class Writer:
    """Raw Ingest (what the SDK sends), so the benchmark measures the UI, not the SDK."""

    def __init__(self, address: str) -> None:
        self.channel = grpc.insecure_channel(address, options=[("grpc.max_send_message_length", 64 << 20)])
        self.stub = pb_grpc.TrackerStub(self.channel)
        self.writer, self.seq = uuid.uuid4().hex, 0

    def send(self, events: list[pb.Event]) -> None:
        self.seq += 1
        acks = list(self.stub.Ingest(iter([pb.IngestRequest(writer=self.writer, seq=self.seq, events=events)]),
                                     timeout=300))
        assert acks[-1].committed_seq >= self.seq

    def start(self, run_id: str, experiment: str) -> None:
        self.send([pb.Event(start=pb.RunStart(run_id=run_id, experiment=experiment, time=time.time(),
                                              status="Running", display_name=run_id[:8]))])

    def points(self, run_id: str, name: str, first: int, n: int) -> pb.Event:
        import math

        steps = list(range(first, first + n))
        return pb.Event(metrics=pb.MetricPoints(
            run_id=run_id, name=name, kind=pb.METRIC_KIND_SCALAR, steps=steps, times=[time.time()] * n,
            columns=[pb.Column(values=[math.exp(-s / 2e5) + 0.01 * math.sin(s) for s in steps])]))


class Terminal:
    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.name = f"tailrun-bench-{uuid.uuid4().hex[:8]}"
        exports = [f"{k}={v}" for k, v in env.items()]
        # A tmux server of its own: a shared default server may be exiting as the last session ends.
        self.tmux = ["tmux", "-L", self.name]
        subprocess.run([*self.tmux, "new-session", "-d", "-s", self.name, "-x", "120", "-y", "40",
                        "exec env " + " ".join(exports + command)], check=True)
        self.pid = int(subprocess.run([*self.tmux, "list-panes", "-t", self.name, "-F", "#{pane_pid}"],
                                      capture_output=True, text=True, check=True).stdout.split()[0])

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def screen(self) -> str:
        return subprocess.run([*self.tmux, "capture-pane", "-p", "-t", self.name], capture_output=True,
                              text=True).stdout

    def wait_for(self, text: str, timeout: float = 10.0) -> float:
        """Seconds until `text` is on the screen."""
        t0 = time.monotonic()
        while text not in self.screen():
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"{text!r} never appeared on the screen")
            time.sleep(0.01)
        return time.monotonic() - t0

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", self.name, *keys], check=True)

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


def _env(tmp: Path, ready: Path | None) -> dict[str, str]:
    env = {"TERM": "xterm-256color", "TEXTUAL_ANIMATIONS": "none", "TAILRUN_HOME": str(tmp / "home"),
           "PATH": os.environ["PATH"]}
    if ready is not None:
        env["TAILRUN_UI_READY_FILE"] = str(ready)
    return env


def first_frame(address: str, run_id: str, tab: str, tmp: Path) -> float:
    ready = tmp / f"ready-{tab}"
    ready.unlink(missing_ok=True)
    t0 = time.time()
    term = Terminal([TAILRUN, "ui", "--address", address, "--run", run_id, "--tab", tab], _env(tmp, ready))
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() or not ready.read_text().strip():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the UI never finished its first frame on {tab}")
            time.sleep(0.01)
        return float(ready.read_text()) - t0
    finally:
        term.close()


def bench_first_frame(address: str, points: int, tmp: Path) -> dict[str, float]:
    writer = Writer(address)
    run_id = str(uuid.uuid4())
    writer.start(run_id, "bench-big")
    t0 = time.perf_counter()
    for m in range(20):
        for first in range(0, points, CHUNK):
            writer.send([writer.points(run_id, f"metric_{m:02d}", first, min(CHUNK, points - first))])
    seeded = time.perf_counter() - t0
    return {"points_per_metric": points, "seed_s": round(seeded, 1),
            "first_frame_overview_s": round(first_frame(address, run_id, "overview", tmp), 3),
            "first_frame_metrics_tab_s": round(first_frame(address, run_id, "metrics", tmp), 3)}


def bench_tailing(address: str, tmp: Path, seconds: float = 15.0) -> dict[str, float]:
    writer = Writer(address)
    runs = [str(uuid.uuid4()) for _ in range(10)]
    for run_id in runs:
        writer.start(run_id, "bench-live")
        writer.send([writer.points(run_id, "loss", 0, 10)])
    stop = threading.Event()
    sent = [0]

    def produce() -> None:   # 10 runs × 100 points every 100 ms = 1,000 points/s per run
        step = 10
        while not stop.is_set():
            t = time.monotonic()
            writer.send([writer.points(r, "loss", step, 100) for r in runs])
            step += 100
            sent[0] += 100 * len(runs)
            stop.wait(max(0.0, 0.1 - (time.monotonic() - t)))

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    out: dict[str, float] = {}
    try:
        for label, args, keys in (("runs_list", ["--experiment", "bench-live"], []),
                                  ("run_metrics_tab", ["--run", runs[0], "--tab", "metrics"], [])):
            term = Terminal([TAILRUN, "ui", "--address", address, *args], _env(tmp, None))
            try:
                time.sleep(3)   # start-up is not tailing
                c0, t0 = term.cpu_seconds(), time.monotonic()
                time.sleep(seconds)
                out[f"ui_cpu_pct_{label}"] = round(100 * (term.cpu_seconds() - c0) / (time.monotonic() - t0), 1)
            finally:
                term.close()
    finally:
        stop.set()
        producer.join(5)
    out["points_per_s_logged"] = round(sent[0] / max(1e-9, 2 * (seconds + 3)), 0)
    return out


def bench_latency(address: str, tmp: Path, samples: int = 8) -> dict[str, float]:
    import statistics

    from tailrun import Experiment, Workspace

    run = Experiment(Workspace(address=address), "bench-latency").start_logging(outputs=False)
    run.log("probe", 0.125)
    run.flush()
    term = Terminal([TAILRUN, "ui", "--address", address, "--experiment", "bench-latency"], _env(tmp, None))
    point, keys = [], []
    try:
        term.wait_for("0.125", timeout=60)
        for i in range(1, samples + 1):
            value = f"{i}.125"
            t0 = time.monotonic()
            run.log("probe", float(value))
            term.wait_for(value)
            point.append(time.monotonic() - t0)
            time.sleep(0.3)
        term.keys("Enter")
        term.wait_for("Overview", timeout=30)
        time.sleep(1)
        for _ in range(samples):
            # "console": the Output tab's header names the console (and its path, once known).
            for key, marker in (("2", "all points"), ("3", "console")):
                t0 = time.monotonic()
                term.keys(key)
                term.wait_for(marker)
                keys.append(time.monotonic() - t0)
    finally:
        term.close()
        run.complete()
    print("keys", [round(k * 1000) for k in keys], file=sys.stderr)
    return {"point_to_screen_s_median": round(statistics.median(point), 3),
            "point_to_screen_s_max": round(max(point), 3),
            "key_to_frame_ms_median": round(statistics.median(keys) * 1000, 1),
            "key_to_frame_ms_p95": round(statistics.quantiles(keys, n=20, method="inclusive")[18] * 1000, 1),
            "key_to_frame_ms_max": round(max(keys) * 1000, 1)}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args(argv or [])
    if shutil.which("tmux") is None:
        raise RuntimeError("bench_ui needs tmux")
    result: dict[str, float] = {}
    with service_process() as (address, _data, _pid), tempfile.TemporaryDirectory() as tmp:
        result.update(bench_first_frame(address, args.points, Path(tmp)))
        result.update(bench_tailing(address, Path(tmp), args.seconds))
        result.update(bench_latency(address, Path(tmp)))
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(main(sys.argv[1:])))

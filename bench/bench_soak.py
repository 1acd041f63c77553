"""Soak: many writer processes stream to one service; then a service outage under a logging loop.

Phase 1 (load): WRITERS processes (forked from one launcher that has imported tailrun, so 256 of
them start in a moment on a small machine), each with its own open Ingest stream, log METRICS
metrics per step at RATE steps/s for SECONDS; a second thread in each writer logs a probe point
every 2 s and times `run.flush()` right after it: the time from logging a point until the service
acknowledges, i.e. has committed, its batch (the ack latency a user can observe). Meanwhile a
user queries the service (QueryProbe): a health check, the runs table (ListRuns of the
experiment) and one run (GetRun), in turn, timing each. Afterwards every run is read back: points
lost and duplicated (both must be 0). The service's peak RSS (VmHWM) is read from /proc while it
still runs.

Phase 2 (outage): one script logs a fixed number of calls with the service up, then the same
number with the service SIGKILLed, then the service comes back and the script waits for its acks;
reports the mean cost of one `run.log` call in each phase (target: outage <= 2x normal) and checks
that exactly the logged points are stored.

`main()` returns the figures; `run_load()` is also used by tests/faults/test_load.py.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

# 256 open streams; 1,280 points/s in all, what this 2-core box sustains (as 64 writers x 2 steps/s did).
WRITERS, METRICS, SECONDS, RATE = 256, 10, 60.0, 0.5
QUERY_INTERVAL = 0.25   # seconds between two rounds of the user's queries
QUERY_DEADLINE = 10.0   # a query not answered within this counts as failed

LAUNCHER = r"""
import json, os, random, sys, threading, time
import tailrun, tailrun._channel, tailrun._encode, tailrun._connection   # loaded once, shared by the forks
from tailrun import Experiment, Workspace

WRITERS, METRICS, SECONDS, RATE = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
out, address = sys.argv[5], sys.argv[6]
PROBE_SECONDS = 2.0   # each probe adds a batch of its own: rare enough not to be the load

def writer(index):
    run = Experiment(Workspace(address=address), "soak").start_logging(outputs=False, snapshot_directory=None)
    names = [f"m{m}" for m in range(METRICS)]
    log, clock = run.log, time.monotonic
    latencies, step, done = [], 0, threading.Event()

    def measure():   # off the logging loop: it must not slow the writer down
        probe = 0
        if done.wait(random.uniform(0, PROBE_SECONDS)):   # spread the writers' probes out
            return
        while not done.wait(PROBE_SECONDS):
            t = time.perf_counter()
            run.log("ack_probe", float(probe), step=probe)   # from log to ack of its batch
            run.flush()
            latencies.append(time.perf_counter() - t)
            probe += 1

    meter = threading.Thread(target=measure, daemon=True)
    meter.start()
    start = clock()
    end, next_step = start + SECONDS, start
    while clock() < end:
        for m, name in enumerate(names):
            log(name, m * 1e6 + step, step=step)
        step += 1
        next_step += 1.0 / RATE
        delay = next_step - clock()
        if delay > 0:
            time.sleep(delay)
    done.set()
    meter.join()
    run.complete()
    with open(os.path.join(out, f"w{index}.json"), "w") as fh:
        json.dump({"run_id": run.id, "steps": step, "latencies": latencies}, fh)

pids = []
for i in range(WRITERS):
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            writer(i)
        except BaseException as exc:
            print(f"writer {i}: {exc!r}", file=sys.stderr, flush=True)
            code = 1
        finally:
            sys.stdout.flush()
        os._exit(code) if code else sys.exit(0)   # sys.exit runs the SDK's exit flush
    pids.append(pid)
failed = sum(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) != 0 for p in pids)
print(json.dumps({"failed_writers": failed}))
"""


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _stored(client: Any, run_id: str) -> dict[str, list[int]]:
    from tailrun.exceptions import RunNotFound

    steps: dict[str, list[int]] = {}
    try:
        chunks = client.get_metrics(run_id)
    except RunNotFound:   # the service never got the run: every point of it is lost (or only spooled)
        return steps
    for chunk in chunks:
        steps.setdefault(chunk.name, []).extend(chunk.steps)
    return steps


def count_lost_and_duplicated(client: Any, run_id: str, names: list[str], steps: int) -> tuple[int, int, int]:
    """(lost, duplicated, stored) points of one run whose metrics have steps 0..steps-1."""
    stored = _stored(client, run_id)
    lost = dup = total = 0
    for name in names:
        got = stored.get(name, [])
        unique = set(got)
        total += len(got)
        dup += len(got) - len(unique)
        lost += len(set(range(steps)) - unique)
    return lost, dup, total


class QueryProbe(threading.Thread):
    """A user while the load runs: health, the runs table, one run; each query timed."""

    KINDS = ("health", "list_runs", "get_run")

    def __init__(self, address: str, experiment: str = "soak") -> None:
        super().__init__(name="query-probe", daemon=True)
        self.address, self.experiment = address, experiment
        self.latencies: dict[str, list[float]] = {kind: [] for kind in self.KINDS}
        self.failures: dict[str, dict[str, int]] = {kind: {} for kind in self.KINDS}
        self.done = threading.Event()

    def run(self) -> None:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        from tailrun.v1 import tailrun_pb2 as pb
        from tailrun.v1 import tailrun_pb2_grpc as pb_grpc

        with grpc.insecure_channel(self.address) as channel:
            tracker, health = pb_grpc.TrackerStub(channel), health_pb2_grpc.HealthStub(channel)
            run_ids: list[str] = []
            while not self.done.wait(QUERY_INTERVAL):
                self._time("health", lambda: health.Check(health_pb2.HealthCheckRequest(), timeout=QUERY_DEADLINE))
                listed = self._time("list_runs", lambda: tracker.ListRuns(
                    pb.ListRunsRequest(experiment=self.experiment), timeout=QUERY_DEADLINE))
                if listed is not None and listed.runs:
                    run_ids = [run.run_id for run in listed.runs]
                if run_ids:
                    run_id = random.choice(run_ids)
                    self._time("get_run", lambda: tracker.GetRun(pb.GetRunRequest(run_id=run_id),
                                                                 timeout=QUERY_DEADLINE))

    def _time(self, kind: str, call: Callable[[], Any]) -> Any:
        import grpc

        started = time.perf_counter()
        try:
            answer = call()
        except grpc.RpcError as exc:
            code = exc.code().name
            self.failures[kind][code] = self.failures[kind].get(code, 0) + 1
            return None
        self.latencies[kind].append(time.perf_counter() - started)
        return answer

    def figures(self) -> dict:
        out: dict[str, Any] = {}
        for kind in self.KINDS:
            lat = self.latencies[kind]
            out[f"query_{kind}_n"] = len(lat)
            out[f"query_{kind}_p50_ms"] = round(percentile(lat, 50) * 1e3, 1)
            out[f"query_{kind}_p99_ms"] = round(percentile(lat, 99) * 1e3, 1)
            out[f"query_{kind}_max_ms"] = round(max(lat, default=float("nan")) * 1e3, 1)
        out["query_failures"] = {kind: codes for kind, codes in self.failures.items() if codes}
        return out


def run_load(address: str, service_pid: int, writers: int = WRITERS, metrics: int = METRICS,
             seconds: float = SECONDS, rate: float = RATE, home: Path | None = None,
             queries: bool = True) -> dict:
    """Run the load against the service at `address` (with the QueryProbe unless `queries` is
    False); returns the figures (see the module doc)."""
    from tailrun.client import Client
    from tailrun._settings import Settings

    with tempfile.TemporaryDirectory(prefix="tailrun-soak-") as tmp:
        out = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAILRUN_")}
        env["TAILRUN_HOME"] = str(home or out / "home")
        started = time.monotonic()
        cpu_before = cpu_seconds(service_pid)
        writers_cpu_before = _children_cpu_seconds()
        # Files, not pipes: 256 writers' messages could fill a pipe nobody reads while the load runs.
        stdout_file, stderr_file = open(out / "launcher.out", "w+"), open(out / "launcher.err", "w+")
        proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(writers), str(metrics), str(seconds),
                                 str(rate), str(out), address], env=env, text=True,
                                stdout=stdout_file, stderr=stderr_file)
        probe = QueryProbe(address)
        if queries:
            probe.start()
        rss_samples = []
        while proc.poll() is None:
            rss_samples.append(peak_rss_mib(service_pid))
            time.sleep(0.5)
        probe.done.set()
        if queries:
            probe.join()
        proc.wait()
        writers_cpu = _children_cpu_seconds() - writers_cpu_before   # the launcher waited for every writer
        with stdout_file, stderr_file:
            stdout_file.seek(0)
            stderr_file.seek(0)
            stdout, stderr = stdout_file.read(), stderr_file.read()
        wall = time.monotonic() - started
        rss = peak_rss_mib(service_pid)
        cpu = cpu_seconds(service_pid) - cpu_before
        if proc.returncode != 0:
            raise RuntimeError(f"the load launcher failed ({proc.returncode}): {stderr[-2000:]}")
        failed = json.loads(stdout.strip().splitlines()[-1])["failed_writers"]
        results = [json.loads(p.read_text()) for p in sorted(out.glob("w*.json"))]
        client = Client(Settings(address=address, token=None))
        names = [f"m{m}" for m in range(metrics)]
        lost = dup = stored = logged = empty_runs = 0
        for res in results:
            run_lost, run_dup, run_stored = count_lost_and_duplicated(client, res["run_id"], names, res["steps"])
            lost, dup, stored, logged = lost + run_lost, dup + run_dup, stored + run_stored, logged + res["steps"] * metrics
            empty_runs += run_stored == 0
        latencies = [lat for res in results for lat in res["latencies"]]
        return {
            "writers": writers, "writers_finished": len(results), "writers_failed": failed,
            "metrics": metrics, "seconds": seconds, "wall_s": round(wall, 1),
            "points_logged": logged, "points_stored": stored, "points_lost": lost, "duplicates": dup,
            "points_per_s": round(logged / seconds), "runs_without_points": empty_runs,
            "ack_latency_p50_ms": round(percentile(latencies, 50) * 1e3, 1),
            "ack_latency_p99_ms": round(percentile(latencies, 99) * 1e3, 1),
            "ack_latency_max_ms": round(max(latencies, default=float("nan")) * 1e3, 1),
            "service_peak_rss_mib": round(rss, 1),
            "service_cpu_s": round(cpu, 1), "writers_cpu_s": round(writers_cpu, 1),
            "machine_cpu_s": round(wall * (os.cpu_count() or 1), 1),
            **(probe.figures() if queries else {}),
            "stderr_tail": stderr.strip().splitlines()[-3:] if stderr.strip() else [],
        }


# ---------------------------------------------------------------------- the outage phase

OUTAGE_SCRIPT = r"""
import json, os, sys, time
from pathlib import Path
from tailrun import Experiment, Workspace
from tailrun._recorder import recorder
out, calls = Path(sys.argv[1]), int(sys.argv[2])
run = Experiment(Workspace(), "soak-outage").start_logging(outputs=False, snapshot_directory=None)
names = [f"m{m}" for m in range(10)]
log, clock = run.log, time.perf_counter

def phase(first):
    # Chunks of 1000 steps with a short pause, like a training loop that also computes.
    t, step = 0.0, first
    for _ in range(calls // 10000):
        t0 = clock()
        for s in range(step, step + 1000):
            for m, name in enumerate(names):
                log(name, m * 1e6 + s, step=s)
        t += clock() - t0
        step += 1000
        time.sleep(0.02)
    return t / (calls // 10000 * 10000), step

normal, step = phase(0)
run.flush()
(out / "normal_done").write_text("")
while not (out / "service_down").exists():
    time.sleep(0.02)
outage, step = phase(step)
(out / "outage_done").write_text("")
while not (out / "service_up").exists():
    time.sleep(0.02)
run.complete()
rec, deadline = recorder(), time.monotonic() + 120
while rec.status().acked_seq < rec.status().last_seq and time.monotonic() < deadline:
    time.sleep(0.05)
print(json.dumps({"run_id": run.id, "steps": step, "normal_s": normal, "outage_s": outage,
                  "acked": rec.status().acked_seq == rec.status().last_seq}))
"""


def _start_service(data_dir: Path, port: int) -> subprocess.Popen:
    from tailrun._local import health_check

    env = {k: v for k, v in os.environ.items() if not k.startswith("TAILRUN_")}
    proc = subprocess.Popen([sys.executable, "-m", "tailrun_service", "--host", "127.0.0.1", "--port",
                             str(port), "--data-dir", str(data_dir), "--no-runner"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not health_check(f"127.0.0.1:{port}", timeout=0.5):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    return proc


def _wait_file(path: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {path.name}")
        time.sleep(0.02)


def run_outage(calls: int = 300_000) -> dict:
    """The logging call's cost with the service up vs SIGKILLed, and exactness afterwards."""
    import socket

    from tailrun.client import Client
    from tailrun._settings import Settings

    with tempfile.TemporaryDirectory(prefix="tailrun-outage-") as tmp:
        root = Path(tmp)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        service = _start_service(root / "data", port)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAILRUN_")}
        env.update(TAILRUN_HOME=str(root / "home"), TAILRUN_ADDRESS=f"127.0.0.1:{port}")
        script = subprocess.Popen([sys.executable, "-c", OUTAGE_SCRIPT, str(root), str(calls)], env=env,
                                  text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            _wait_file(root / "normal_done")
            service.send_signal(signal.SIGKILL)
            service.wait()
            (root / "service_down").write_text("")
            _wait_file(root / "outage_done")
            service = _start_service(root / "data", port)
            (root / "service_up").write_text("")
            stdout, stderr = script.communicate(timeout=300)
            if script.returncode != 0:
                raise RuntimeError(f"the outage script failed: {stderr[-2000:]}")
            res = json.loads(stdout.strip().splitlines()[-1])
            client = Client(Settings(address=f"127.0.0.1:{port}", token=None))
            lost, dup, _stored = count_lost_and_duplicated(client, res["run_id"], [f"m{m}" for m in range(10)],
                                                           res["steps"])
        finally:
            if script.poll() is None:
                script.kill()
            service.terminate()
            service.wait(30)
    return {"log_call_normal_ns": round(res["normal_s"] * 1e9), "log_call_outage_ns": round(res["outage_s"] * 1e9),
            "outage_over_normal": round(res["outage_s"] / res["normal_s"], 2),
            "outage_points_lost": lost, "outage_duplicates": dup, "outage_all_acked": res["acked"]}


def main() -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from _service import service_process

    with service_process() as (address, _data, pid):
        load = run_load(address, pid)
    outage = run_outage()
    result = {**load, **outage}
    result["points_lost"] += result.pop("outage_points_lost")
    result["duplicates"] += result.pop("outage_duplicates")
    result.pop("stderr_tail", None)
    return result


if __name__ == "__main__":
    print(json.dumps(main()))

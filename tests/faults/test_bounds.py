"""Bounds and backpressure of the SDK (issue 5, item 5).

A real child process logs 2,000,000 points (a) to a normal service, (b) to an address where nothing
listens, (c) to a slow service: a real gRPC server of this test whose Ingest handler sleeps before
acknowledging each batch. In (b) and (c) its peak RSS (VmHWM) stays under the documented cap (see
tailrun._recorder: MEMORY_BYTES + WINDOW_BYTES of batches, plus headroom for the queue, the encoder
and the allocator) above the process's RSS before the loop, and every point is accounted for:
acknowledged, or in the spool. The loop's time with the service down is printed next to the
normal time (the target is within 2x; timing is measured, never asserted). With a tiny
TAILRUN_SPOOL_MAX_BYTES the SDK says once, in one line, that the spool is full, and counts the
dropped batches at exit.
"""
from __future__ import annotations

import json
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from faultkit import ServiceProcess, free_port, run_script, script_env
from tailrun._connection import WINDOW_BYTES
from tailrun._recorder import MEMORY_BYTES
from tailrun._spool import iter_records, spool_root
from tailrun.v1 import tailrun_pb2 as pb

POINTS = 2_000_000
HEADROOM = 48 * 1024 * 1024     # the queue, the encoder's batch, grpc's buffers, allocator slack
RSS_CAP = MEMORY_BYTES + WINDOW_BYTES + HEADROOM

LOGGER = """
import json, os, time
from tailrun import Experiment, Workspace
from tailrun._recorder import recorder

def kib(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])

points = int(os.environ["POINTS"])
run = Experiment(Workspace(), "bounds").start_logging(outputs=False, snapshot_directory=None)
run.log("warmup", 1.0)
recorder().flush(3)
base = kib("VmRSS")
log = run.log
t0 = time.perf_counter()
for i in range(points):
    log("loss", i * 0.5, step=i)
loop = time.perf_counter() - t0
spool = str(recorder()._spool.folder)
if os.environ.get("END") == "abandon":   # stop waiting after 3 s, then exit hard: the rest stays spooled
    recorder().close(3)
else:
    run.complete()
status = recorder().status()
with open(os.environ["REPORT"], "w") as out:   # a file: stdout is teed by the run's console capture
    json.dump({"run_id": run.id, "base_kib": base, "peak_kib": kib("VmHWM"), "loop_s": loop,
               "last_seq": status.last_seq, "acked_seq": status.acked_seq,
               "dropped": status.dropped_batches, "spool": spool}, out)
if os.environ.get("END") == "abandon":
    os._exit(0)
"""


def loss_points(request: pb.IngestRequest) -> int:
    return sum(len(e.metrics.times) for e in request.events
               if e.WhichOneof("kind") == "metrics" and e.metrics.name == "loss")


class SlowIngestServer:
    """A real gRPC server speaking Tracker.Ingest that sleeps `delay` s before each ack."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.acked: dict[int, int] = {}      # seq -> "loss" points in that batch, once acknowledged
        self.lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                                  options=[("grpc.max_receive_message_length", 16 * 1024 * 1024)])
        handler = grpc.stream_stream_rpc_method_handler(self._ingest)   # raw bytes in and out
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "tailrun.v1.Tracker", {"Ingest": handler}),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def _ingest(self, requests, context):
        for data in requests:
            request = pb.IngestRequest.FromString(data)
            if request.seq:
                time.sleep(self.delay)
                with self.lock:
                    self.acked[request.seq] = loss_points(request)
            with self.lock:
                committed = max(self.acked, default=0)
            yield pb.IngestAck(writer=request.writer, committed_seq=committed).SerializeToString()

    def stop(self) -> None:
        self.server.stop(0).wait()


def run_logger(home: Path, address: str, tmp_path: Path, points: int = POINTS, **env: str) -> tuple[dict, str]:
    report = tmp_path / f"report-{home.name}.json"
    done = run_script(LOGGER, script_env(home, address, POINTS=str(points), TAILRUN_EXIT_TIMEOUT="3",
                                         REPORT=str(report), **env), tmp_path / "cwd", timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert report.exists(), f"the script wrote no report: {done.stdout[-2000:]} {done.stderr[-2000:]}"
    return json.loads(report.read_text()), done.stderr


def spooled_points(folder: Path) -> dict[int, int]:
    """seq -> "loss" points of every readable batch in a spool folder."""
    return {seq: loss_points(pb.IngestRequest.FromString(record))
            for seq, record, _skipped in iter_records(folder) if record and seq}


def assert_under_cap(report: dict, what: str) -> None:
    grown = (report["peak_kib"] - report["base_kib"]) * 1024
    assert grown < RSS_CAP, (f"{what}: peak RSS grew by {grown / 2**20:.1f} MiB while logging "
                             f"{POINTS} points; the cap is {RSS_CAP / 2**20:.0f} MiB")


def describe(report: dict, what: str) -> str:
    return (f"{what}: loop {report['loop_s']:.2f} s, peak RSS {report['peak_kib'] / 1024:.0f} MiB "
            f"(+{(report['peak_kib'] - report['base_kib']) / 1024:.0f} MiB over {report['base_kib'] / 1024:.0f})")


@pytest.mark.slow
def test_service_down_memory_stays_under_the_cap_and_everything_is_spooled(tmp_path, capsys):
    normal_service = ServiceProcess(tmp_path / "data").start()
    try:
        normal, _ = run_logger(tmp_path / "home-normal", normal_service.address, tmp_path)
    finally:
        normal_service.stop()
    assert normal["acked_seq"] == normal["last_seq"]

    down, stderr = run_logger(tmp_path / "home-down", f"127.0.0.1:{free_port()}", tmp_path)
    assert "is not reachable" in stderr and "tailrun sync" in stderr
    assert_under_cap(down, "service down")
    spooled = spooled_points(Path(down["spool"]))
    assert sorted(spooled) == list(range(1, down["last_seq"] + 1)), "batches missing from the spool"
    assert sum(spooled.values()) == POINTS
    with capsys.disabled():
        print(f"\n  {describe(normal, 'normal service')}\n  {describe(down, 'service down')}"
              f" = {down['loop_s'] / normal['loop_s']:.2f}x the normal loop time")


@pytest.mark.slow
def test_slow_service_memory_stays_under_the_cap_and_nothing_is_lost(tmp_path, capsys):
    slow = SlowIngestServer(delay=0.3)
    try:
        report, _ = run_logger(tmp_path / "home", f"127.0.0.1:{slow.port}", tmp_path, END="abandon")
    finally:
        slow.stop()
    assert_under_cap(report, "slow service")
    spooled = spooled_points(Path(report["spool"]))
    with slow.lock:
        acked = dict(slow.acked)
    assert acked and max(acked) < report["last_seq"], "the slow service was not slow enough to test anything"
    # Every batch is acknowledged by the service or still in the spool; the points add up.
    every = {**acked, **spooled}
    assert sorted(every) == list(range(1, report["last_seq"] + 1))
    assert sum(every.values()) == POINTS
    with capsys.disabled():
        print(f"\n  {describe(report, 'slow service')}; {len(acked)} batches acked, "
              f"{len(set(spooled) - set(acked))} left in the spool")


def test_spool_cap_drops_new_batches_says_so_once_and_counts_them(tmp_path):
    cap = 300_000
    report, stderr = run_logger(tmp_path / "home", f"127.0.0.1:{free_port()}", tmp_path, points=200_000,
                                TAILRUN_SPOOL_MAX_BYTES=str(cap))
    lines = stderr.splitlines()
    full = [line for line in lines if "spool is full" in line]
    assert full == [(f"tailrun: the spool is full (TAILRUN_SPOOL_MAX_BYTES={cap}); new data is dropped "
                     f"until the service catches up")], stderr
    assert report["dropped"] > 0
    at_exit = [line for line in lines if "LOST" in line]
    assert len(at_exit) == 1 and at_exit[0].startswith(f"tailrun: LOST {report['dropped']} batches ("), stderr
    assert f"the spool reached its cap (TAILRUN_SPOOL_MAX_BYTES={cap})" in at_exit[0], stderr
    folder = spool_root(tmp_path / "home") / Path(report["spool"]).name
    size = sum(p.stat().st_size for p in folder.glob("*.seg"))
    assert 0 < size <= cap
    spooled = spooled_points(folder)
    assert sorted(spooled) == list(range(1, report["last_seq"] + 1))   # dropped batches took no seq
    assert sum(spooled.values()) < 200_000


# ---------------------------------------------------------------- image and file size limits

def test_log_image_over_the_client_limit_is_refused_before_queuing(ws, tmp_path):
    from tailrun import Experiment
    from tailrun.run_logging import MAX_IMAGE_BYTES

    big = tmp_path / "huge.png"
    with open(big, "wb") as fh:          # a sparse file: PNG magic, then a hole past the limit
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.truncate(MAX_IMAGE_BYTES + 1)
    run = Experiment(ws, "bounds").start_logging(outputs=False, snapshot_directory=None)
    queued = len(run._recorder().queue)
    with pytest.raises(ValueError, match=rf"'huge': the image .* is {MAX_IMAGE_BYTES + 1} bytes, over the limit of "
                                         rf"{MAX_IMAGE_BYTES} bytes for log_image; use upload_file"):
        run.log_image("huge", path=str(big))
    assert len(run._recorder().queue) == queued
    run.complete()
    assert "huge" not in run.get_metrics()


def test_a_file_over_the_service_limit_is_refused_with_one_warning_line(ws, service, tmp_path, capsys):
    from tailrun import Experiment

    limit = 1024 * 1024 + 5
    service.store.artifacts.max_file_bytes = limit
    src = tmp_path / "big.bin"
    src.write_bytes(b"x" * (3 * 1024 * 1024))
    run = Experiment(ws, "bounds").start_logging(outputs=False, snapshot_directory=None)
    run.upload_file("outputs/big.bin", str(src))
    run.upload_file("outputs/small.bin", __file__)   # under the limit: stored
    run.complete()
    warning = f"tailrun: the service refused an event: file 'outputs/big.bin' exceeds the limit of {limit} bytes"
    assert capsys.readouterr().err.splitlines().count(warning) == 1
    files = {f.path: f for f in run._client().list_files(run.id)}
    assert files["outputs/big.bin"].size == 1024 * 1024 and not files["outputs/big.bin"].complete
    assert files["outputs/small.bin"].complete

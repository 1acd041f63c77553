"""Seed a real service with runs of fixed content and fixed times, through the real Ingest RPC,
so that screens (and snapshots) are the same on every machine and every run."""
from __future__ import annotations

import io
import math
import struct
import uuid
import zlib
from typing import Any

import grpc

from tailrun.v1 import tailrun_pb2 as pb
from tailrun.v1 import tailrun_pb2_grpc as pb_grpc

T0 = 1_700_000_000.0          # 2023-11-14 22:13:20 UTC
NOW = T0 + 3600               # the frozen clock of the tests


def png_bytes(width: int = 24, height: int = 16) -> bytes:
    """A small gradient PNG written with the stdlib."""
    rows = b"".join(b"\0" + bytes(v for x in range(width) for v in (x * 10 % 256, y * 15 % 256, 128))
                    for y in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class Seeder:
    def __init__(self, address: str, token: str | None = None) -> None:
        self.channel = grpc.insecure_channel(address)
        self.stub = pb_grpc.TrackerStub(self.channel)
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.writer = uuid.uuid4().hex
        self.seq = 0

    def close(self) -> None:
        self.channel.close()

    def send(self, *events: pb.Event) -> None:
        self.seq += 1
        req = pb.IngestRequest(writer=self.writer, seq=self.seq, events=list(events))
        acks = list(self.stub.Ingest(iter([req]), metadata=self.metadata, timeout=30))
        assert acks and acks[-1].committed_seq >= self.seq, acks
        assert not acks[-1].rejected, acks[-1].rejected

    # ------------------------------------------------------------------ events

    def start(self, run_id: str, experiment: str, t: float, **kw: Any) -> None:
        self.send(pb.Event(start=pb.RunStart(run_id=run_id, experiment=experiment, time=t,
                                             status=kw.pop("status", "Running"), **kw)))

    def patch(self, run_id: str, t: float, **kw: Any) -> None:
        self.send(pb.Event(patch=pb.RunPatch(run_id=run_id, time=t, **kw)))

    def scalars(self, run_id: str, name: str, values: list[float], t: float, steps: bool = True) -> None:
        n = len(values)
        self.send(pb.Event(metrics=pb.MetricPoints(
            run_id=run_id, name=name, kind=pb.METRIC_KIND_SCALAR, times=[t + i for i in range(n)],
            steps=list(range(n)) if steps else [], columns=[pb.Column(values=values)])))

    def system(self, run_id: str, name: str, values: list[float], t: float, every: float = 5.0) -> None:
        """Samples of a system metric as the SDK stores them: "system/<name>", steps = sample index."""
        n = len(values)
        self.send(pb.Event(metrics=pb.MetricPoints(
            run_id=run_id, name=f"system/{name}", kind=pb.METRIC_KIND_SYSTEM,
            times=[t + every * i for i in range(n)], steps=list(range(n)), columns=[pb.Column(values=values)])))

    def table(self, run_id: str, name: str, kind: int, columns: dict[str, list[Any]], t: float) -> None:
        cols = []
        for col_name, values in columns.items():
            col = pb.Column(name=col_name)
            if all(isinstance(v, float) for v in values):
                col.values.extend(values)
            else:
                kinds = bytearray()
                for v in values:
                    if isinstance(v, str):
                        kinds.append(pb.VALUE_KIND_STR); col.values.append(math.nan); col.strs.append(v)
                    elif isinstance(v, bool):
                        kinds.append(pb.VALUE_KIND_BOOL); col.values.append(float(v))
                    elif isinstance(v, int):
                        kinds.append(pb.VALUE_KIND_INT); col.values.append(float(v)); col.ints.append(v)
                    else:
                        kinds.append(pb.VALUE_KIND_FLOAT); col.values.append(float(v))
                col.kinds = bytes(kinds)
            cols.append(col)
        nrows = max(len(v) for v in columns.values())
        self.send(pb.Event(metrics=pb.MetricPoints(run_id=run_id, name=name, kind=kind,
                                                   times=[t] * nrows, columns=cols)))

    def file(self, run_id: str, path: str, data: bytes, append: bool = False, last: bool = True) -> None:
        self.send(pb.Event(file=pb.FileChunk(run_id=run_id, path=path, offset=0, data=data,
                                             last=last, append=append)))

    def log_text(self, run_id: str, path: str, offset: int, text: str) -> int:
        data = text.encode()
        self.send(pb.Event(file=pb.FileChunk(run_id=run_id, path=path, offset=offset, data=data, append=True)))
        return offset + len(data)

    def image(self, run_id: str, name: str, path: str, data: bytes, t: float) -> None:
        self.file(run_id, path, data)
        col = pb.Column(values=[math.nan], kinds=bytes([pb.VALUE_KIND_STR]), strs=[path])
        self.send(pb.Event(metrics=pb.MetricPoints(run_id=run_id, name=name, kind=pb.METRIC_KIND_IMAGE,
                                                   times=[t], columns=[col])))


RUN_DONE = "00000000-0000-4000-8000-000000000001"
RUN_FAILED = "00000000-0000-4000-8000-000000000002"
RUN_LIVE = "00000000-0000-4000-8000-000000000003"
RUN_CHILD = "00000000-0000-4000-8000-000000000004"
EXPERIMENT = "mnist"


def curve(n: int, start: float, rate: float, wiggle: float = 0.02) -> list[float]:
    return [start * math.exp(-rate * i) + wiggle * math.sin(i * 0.7) + 0.05 for i in range(n)]


def seed_system(s: Seeder, run_id: str, t: float, samples: int = 40) -> None:
    """A run's CPU, memory and two GPUs, sampled every 5 s (what the SDK's sampler stores)."""
    wave = [math.sin(i / 4) for i in range(samples)]
    s.system(run_id, "cpu_percent", [180 + 20 * w for w in wave], t)
    s.system(run_id, "memory_rss_mb", [1500 + 10 * i for i in range(samples)], t)
    s.system(run_id, "memory_percent", [9.5 + 0.06 * i for i in range(samples)], t)
    for gpu in (0, 1):
        s.system(run_id, f"gpu{gpu}_utilization_percent", [90 - 10 * gpu + 5 * w for w in wave], t)
        s.system(run_id, f"gpu{gpu}_memory_used_mb", [10240 - 1024 * gpu + 0 * w for w in wave], t)
        s.system(run_id, f"gpu{gpu}_temperature_c", [70 + gpu + 2 * w for w in wave], t)
        s.system(run_id, f"gpu{gpu}_power_w", [250 - 20 * gpu + 15 * w for w in wave], t)


def seed_all(address: str) -> dict[str, str]:
    """Three runs in `mnist` (completed with tables/images/files/a child, failed, running) and an
    empty experiment `scratch`."""
    s = Seeder(address)
    try:
        s.start(RUN_DONE, EXPERIMENT, T0, display_name="baseline", tags={"model": "cnn", "lr": "0.01"},
                properties={"git": "abc123"}, run_type="interactive")
        s.scalars(RUN_DONE, "loss", curve(200, 2.0, 0.03), T0 + 1)
        s.scalars(RUN_DONE, "accuracy", [min(0.99, 0.5 + i * 0.003) for i in range(200)], T0 + 1)
        s.scalars(RUN_DONE, "lr", [0.01 * (0.98 ** (i // 10)) for i in range(200)], T0 + 1, steps=False)
        seed_system(s, RUN_DONE, T0 + 1)
        s.table(RUN_DONE, "per_class", pb.METRIC_KIND_TABLE,
                {"class": ["cat", "dog", "ship"], "precision": [0.91, 0.88, 0.95], "support": [100, 98, 102]}, T0 + 5)
        s.table(RUN_DONE, "epoch_summary", pb.METRIC_KIND_ROW, {"epoch": [1], "val_loss": [0.42]}, T0 + 6)
        s.image(RUN_DONE, "samples", "outputs/samples.png", png_bytes(), T0 + 7)
        s.image(RUN_DONE, "broken", "outputs/broken.png", b"\x89PNG not really", T0 + 8)
        s.file(RUN_DONE, "outputs/metrics.csv", b"epoch,loss,acc\n1,0.9,0.61\n2,0.5,0.80\n3,0.3,0.88\n")
        s.file(RUN_DONE, "outputs/config.json", b'{"lr": 0.01, "layers": [32, 64], "dropout": 0.1}')
        s.file(RUN_DONE, "outputs/model.bin", bytes(range(256)) * 8)
        off = 0
        for line in ("epoch 1/3 loss=0.90 acc=0.61\n", "epoch 2/3 loss=0.50 acc=0.80\n",
                     "epoch 3/3 loss=0.30 acc=0.88\n", "saved model to outputs/model.bin\n"):
            off = s.log_text(RUN_DONE, "logs/user_log.txt", off, line)
        s.start(RUN_CHILD, EXPERIMENT, T0 + 10, parent_run_id=RUN_DONE, display_name="fold-1",
                run_type="child")
        s.patch(RUN_CHILD, T0 + 70, status="Completed")
        s.patch(RUN_DONE, T0 + 300, status="Completed")

        s.start(RUN_FAILED, EXPERIMENT, T0 + 400, display_name="big-lr", tags={"model": "cnn", "lr": "1.0"},
                run_type="interactive")
        s.scalars(RUN_FAILED, "loss", [2.0 + i * 0.5 for i in range(20)], T0 + 401)
        s.log_text(RUN_FAILED, "logs/user_log.txt", 0, "starting\nloss is exploding\n")
        err = ('{"error": {"code": "UserError", "message": "ValueError: loss is nan", "traceback": '
               '"Traceback (most recent call last):\\n  File \\"train.py\\", line 12, in <module>\\n'
               '    raise ValueError(\\"loss is nan\\")\\nValueError: loss is nan\\n"}}')
        s.patch(RUN_FAILED, T0 + 460, status="Failed", error_json=err)

        s.start(RUN_LIVE, EXPERIMENT, T0 + 3000, display_name="still-going", tags={"model": "mlp"},
                run_type="interactive")
        s.scalars(RUN_LIVE, "loss", curve(50, 1.5, 0.05), T0 + 3001)
        s.send(pb.Event(experiment=pb.ExperimentEnsure(name="scratch")))
    finally:
        s.close()
    return {"done": RUN_DONE, "failed": RUN_FAILED, "live": RUN_LIVE, "child": RUN_CHILD}

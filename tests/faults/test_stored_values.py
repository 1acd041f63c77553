"""Metric values that cannot be decoded (issue 8, item 14).

Before: a writer could store `kinds=BIGINT, strs=["not a number"]`, and `get_metrics`,
`get_metric_series` and `tailrun metrics` then failed with ValueError for the whole run. Now ingest
refuses such an event (one line; the rest of the batch is stored), and readers never fail on what
a database already holds: an undecodable value reads as None, with one warning naming it.
"""
from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import uuid
import warnings

import grpc
from tailrun import Experiment
from tailrun.v1 import tailrun_pb2 as pb
from tailrun.v1 import tailrun_pb2_grpc as pb_grpc

BIGINT, STR = 5, 4


def test_ingest_refuses_the_bad_value_and_stores_the_rest(service):
    run_id = f"r-{uuid.uuid4().hex}"
    bad = pb.MetricPoints(run_id=run_id, name="bad", times=[1.0],
                          columns=[pb.Column(values=[math.nan], kinds=bytes([BIGINT]), strs=["not a number"])])
    good = pb.MetricPoints(run_id=run_id, name="good", times=[1.0], columns=[pb.Column(values=[2.5])])
    with grpc.insecure_channel(service.address) as channel:
        (ack,) = pb_grpc.TrackerStub(channel).Ingest(iter([pb.IngestRequest(writer="w", seq=1, events=[
            pb.Event(start=pb.RunStart(run_id=run_id, experiment="values")),
            pb.Event(metrics=bad), pb.Event(metrics=good)])]), timeout=20)
    assert list(ack.rejected) == [f"metric 'bad' of run {run_id!r}: column '' has a BIGINT value 'not a number' "
                                  f"that is not an integer (decimal digits with an optional '-')"]
    assert service.store.get_run(run_id).metric_names == ["good"]


def test_readers_survive_an_undecodable_value_already_stored(ws, service, tmp_path):
    run = Experiment(ws, "stored-values").start_logging(outputs=False, snapshot_directory=None)
    run.log("big", 2 ** 70)
    run.log_row("table", a=1, b="text")
    run.log("loss", 0.5)
    run.complete()
    # What an older service let in, written straight into its database.
    with sqlite3.connect(service.data_dir / "tailrun.db") as db:
        db.execute("UPDATE metric_chunks SET strs_json = ? WHERE metric_id = "
                   "(SELECT id FROM metrics WHERE run_id = ? AND name = 'big')", ('[["not a number"]]', run.id))
        db.execute("UPDATE metric_chunks SET kinds = ? WHERE metric_id = "
                   "(SELECT id FROM metrics WHERE run_id = ? AND name = 'table')", (bytes([BIGINT, 9]), run.id))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run.get_metrics() == {"big": None, "table": {"a": None, "b": None}, "loss": 0.5}
        assert list(run.get_metric_series("big")) == [(None, None, list(run.get_metric_series("big"))[0][2])]
    said = [str(w.message) for w in caught]
    assert ("tailrun: metric 'big': stored values that cannot be decoded are shown as None (the first: "
            "a BIGINT value 'not a number' that is not an integer)") in said
    assert any("metric 'table', column 'a'" in m and "fewer stored values than points" in m for m in said)
    assert any("metric 'table', column 'b'" in m and "unknown kind 9" in m for m in said)

    cli = subprocess.run([sys.executable, "-m", "tailrun.cli", "metrics", run.id],
                         env=_env(service.address), capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert "big (scalar, 1 value)" in cli.stdout and "loss" in cli.stdout
    assert "cannot be decoded" in cli.stderr and "Traceback" not in cli.stderr


def _env(address: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("TAILRUN_") or k == "TAILRUN_HOME"}
    env["TAILRUN_ADDRESS"] = address
    return env

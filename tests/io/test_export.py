"""Export: run.get_metrics_dataframe, `tailrun metrics --format`, `tailrun export`, `tailrun
download` against a real service, with runs logged through the SDK; the commands run as real
`python -m tailrun.cli` processes."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import pty
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest


def cli(service, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tailrun.cli", *args, "--address", service.address],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.fixture
def logged(ws):
    """A run with scalars (exact edge values), a list, a row metric, a table, files and a child."""
    from tailrun import Experiment
    run = Experiment(ws, "export-exp").start_logging(outputs=False, display_name="exported", snapshot_directory=None)
    run.log("loss", 0.1, step=0)
    run.log("loss", 1 / 3, step=5)
    run.log("loss", math.nan, step=10)
    run.log("acc", math.inf)
    run.log("acc", 2**53 + 1)
    run.log("note", "hello, \"world\"")
    run.log_list("hist", [1.5, -0.0, 1e-300])
    run.log_row("row", a=1, b="x")
    run.log_row("row", a=2, c=True)
    run.log_table("tab", {"x": [1, 2], "y": [0.5, 0.25]})
    run.upload_file("outputs/model.bin", io.BytesIO(b"\x00\x01weights" * 1000))
    run.upload_file("outputs/sub/notes.txt", io.BytesIO(b"notes"))
    child = run.child_run("kid")
    child.log("child_metric", 42.0)
    child.complete()
    run.complete()
    return run, child


def test_dataframe_exact(logged):
    run, _ = logged
    df = run.get_metrics_dataframe()
    assert list(df.columns) == ["name", "step", "value", "timestamp"]
    loss = df[df.name == "loss"]
    assert list(loss.step) == [0, 5, 10]
    assert loss.value.iloc[0] == 0.1 and loss.value.iloc[1] == 1 / 3 and math.isnan(loss.value.iloc[2])
    acc = df[df.name == "acc"]
    assert acc.step.isna().all()
    assert list(acc.value) == [math.inf, 2**53 + 1]           # an int past 2**53 stays exact (object)
    assert type(acc.value.iloc[1]) is int
    assert list(df[df.name == "hist"].value) == [1.5, -0.0, 1e-300]
    assert math.copysign(1, df[df.name == "hist"].value.iloc[1]) == -1
    assert "row" not in set(df.name) and "tab" not in set(df.name)
    series = run.get_metric_series("loss")
    assert list(loss.timestamp) == series.times                # stored times, bit for bit
    only = run.get_metrics_dataframe("loss")
    assert set(only.name) == {"loss"} and len(only) == 3
    floats = run.get_metrics_dataframe("hist")
    assert floats.value.dtype == "float64"


def test_dataframe_missing_pandas_names_the_extra(logged, run_script, service):
    run, _ = logged
    # a real process where pandas cannot be imported (a path entry that shadows it)
    code = ("import sys, types; sys.modules['pandas'] = None\n"
            "from tailrun import Workspace, Run\n"
            f"run = Run.get(Workspace(), {run.id!r})\n"
            "try:\n    run.get_metrics_dataframe()\nexcept ImportError as e:\n    print('ERR', e)\n")
    out = run_script(code)
    assert "ERR get_metrics_dataframe needs pandas" in out.stdout, out.stderr
    assert "pip install 'tailrun[export]'" in out.stdout


def test_metrics_formats(service, logged, tmp_path):
    run, _ = logged
    as_csv = cli(service, "metrics", run.id, "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    assert cli(service, "metrics", run.id, "--csv").stdout == as_csv.stdout     # the old flag
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["step"], r["value"]) for r in rows if r["metric"] == "loss"] == [
        ("0", "0.1"), ("5", repr(1 / 3)), ("10", "nan")]
    assert [r["value"] for r in rows if r["metric"] == "note"] == ['hello, "world"']
    assert [(r["index"], r["column"], r["value"]) for r in rows if r["metric"] == "row"] == [
        ("0", "a", "1"), ("0", "b", "x"), ("0", "c", ""), ("1", "a", "2"), ("1", "b", ""), ("1", "c", "True")]

    as_json = cli(service, "metrics", run.id, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    objs = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [o["value"] for o in objs if o["metric"] == "acc"] == [math.inf, 2**53 + 1]
    assert [(o["kind"], o["column"], o["value"]) for o in objs if o["metric"] == "tab"] == [
        ("table", "x", 1), ("table", "y", 0.5), ("table", "x", 2), ("table", "y", 0.25)]
    assert len(objs) == len(rows)

    target = tmp_path / "m.parquet"
    as_parquet = cli(service, "metrics", run.id, "loss", "--format", "parquet", "-o", str(target))
    assert as_parquet.returncode == 0, as_parquet.stderr
    table = pq.read_table(target).to_pydict()
    assert table["step"] == [0, 5, 10] and table["value"][:2] == [0.1, 1 / 3] and math.isnan(table["value"][2])
    assert table["time"] == run.get_metric_series("loss").times
    mixed = tmp_path / "all.parquet"
    assert cli(service, "metrics", run.id, "--format", "parquet", "-o", str(mixed)).returncode == 0
    everything = pq.read_table(mixed).to_pydict()
    acc = [(v, t) for m, v, t in zip(everything["metric"], everything["value"], everything["value_type"])
           if m == "acc"]
    assert acc == [("inf", "float"), (str(2**53 + 1), "int")]

    no_file = cli(service, "metrics", run.id, "--format", "parquet")
    assert no_file.returncode != 0 and "-o FILE" in no_file.stderr


def test_export_run_layout(service, logged, tmp_path):
    run, child = logged
    dest = tmp_path / "out"
    done = cli(service, "export", run.id, str(dest))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [run.id, child.id]
    manifest = json.loads((dest / "export.json").read_text())
    assert manifest["runs"] == [run.id, child.id] and manifest["experiment"] is None
    details = json.loads((dest / run.id / "run.json").read_text())
    assert details["run_id"] == run.id and details["status"] == "Completed"
    assert details["display_name"] == "exported" and details["experiment"] == "export-exp"
    assert (dest / run.id / "files/outputs/model.bin").read_bytes() == b"\x00\x01weights" * 1000
    assert (dest / run.id / "files/outputs/sub/notes.txt").read_bytes() == b"notes"
    metrics = list(csv.DictReader(open(dest / run.id / "metrics.csv")))
    assert [r["value"] for r in metrics if r["metric"] == "loss"] == ["0.1", repr(1 / 3), "nan"]
    table = list(csv.reader(open(dest / run.id / "tables" / "row.csv")))
    assert table[0] == ["index", "step", "time", "a", "b", "c"]
    assert [r[3:] for r in table[1:]] == [["1", "x", ""], ["2", "", "True"]]
    assert json.loads((dest / child.id / "run.json").read_text())["parent_run_id"] == run.id
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []

    again = cli(service, "export", run.id, str(dest))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_export_experiment_parquet(service, logged, tmp_path):
    run, child = logged
    dest = tmp_path / "exp"
    done = cli(service, "export", "export-exp", str(dest), "--format", "parquet")
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == sorted([run.id, child.id])
    assert json.loads((dest / "export.json").read_text())["experiment"] == "export-exp"
    kid = pq.read_table(dest / child.id / "metrics.parquet").to_pydict()
    assert kid["metric"] == ["child_metric"] and kid["value"] == [42.0]


def test_export_unknown_name_lists_experiments(service, logged, tmp_path):
    out = cli(service, "export", "nope", str(tmp_path / "x"))
    assert out.returncode == 1
    assert "no run or experiment named 'nope'" in out.stderr and "export-exp" in out.stderr
    assert not (tmp_path / "x").exists()


def test_failed_export_leaves_nothing(service, logged, tmp_path):
    """The service goes away half-way (after the metrics, before the files): no folder is left."""
    from tailrun.client import Client
    from tailrun._settings import Settings
    from tailrun.exceptions import ServiceUnavailable
    from tailrun.export import export

    run, _ = logged
    parent = tmp_path / "target"
    parent.mkdir()
    seen = []

    def stop_service_at_first_file(path, size):
        seen.append(path)
        service.stop()

    client = Client(Settings.resolve(service.address, None))
    with pytest.raises(ServiceUnavailable):
        export(client, run.id, parent / "out", progress=stop_service_at_first_file)
    client.close()
    assert seen and list(parent.iterdir()) == []


def test_download_prefix_and_progress(service, logged, tmp_path, ws):
    from tailrun import Experiment
    run, _ = logged
    out = cli(service, "download", run.id, "--prefix", "outputs/sub", str(tmp_path / "d"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(tmp_path / "d" / "outputs/sub/notes.txt")]
    assert (tmp_path / "d/outputs/sub/notes.txt").read_bytes() == b"notes"

    big = Experiment(ws, "export-exp").start_logging(outputs=False)
    payload = os.urandom(9 * 1024 * 1024)
    big.upload_file("outputs/big.bin", io.BytesIO(payload))
    big.complete()
    # stderr is a real terminal (a pty): the bar is drawn there; stdout is a pipe
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tailrun.cli", "download", big.id, str(tmp_path / "b"),
                             "--address", service.address], stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    shown = b""
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        shown += data
    proc.wait(60)
    os.close(master)
    assert proc.returncode == 0
    assert (tmp_path / "b/outputs/big.bin").read_bytes() == payload
    assert b"outputs/big.bin [" in shown and b"100%" in shown
    quiet = cli(service, "download", big.id, str(tmp_path / "c"))      # stderr not a terminal: no bar
    assert quiet.returncode == 0 and quiet.stderr == ""

    missing = cli(service, "download", run.id, "--prefix", "nothing/")
    assert missing.returncode == 1 and "has no files under" in missing.stderr
    bad = cli(service, "download", "no-such-run")
    assert bad.returncode == 1 and "no-such-run" in bad.stderr


def test_parquet_without_pyarrow_names_the_extra(service, logged, run_script, tmp_path):
    run, _ = logged
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    code = ("import sys; sys.modules['pyarrow'] = None\n"
            "from tailrun.cli import main\n"
            f"sys.exit(main(['metrics', {run.id!r}, '--format', 'parquet', '-o', {str(tmp_path / 'm.parquet')!r}]))\n")
    out = run_script(code)
    assert out.returncode == 1 and "pip install 'tailrun[export]'" in out.stderr
    assert not (tmp_path / "m.parquet").exists()
    code = code.replace(f"['metrics', {run.id!r}, '--format', 'parquet', '-o', {str(tmp_path / 'm.parquet')!r}]",
                        f"['export', {run.id!r}, {str(tmp_path / 'x')!r}, '--format', 'parquet']")
    out = run_script(code)
    assert out.returncode == 1 and "pip install 'tailrun[export]'" in out.stderr
    assert list(tmp_path.iterdir()) == []      # no export folder, no partial one


SAMPLES = [{"cpu_percent": 0.1, "memory_rss_mb": 1 / 3}, {"cpu_percent": 250.5, "memory_rss_mb": 1e-300},
           {"cpu_percent": 0.0, "memory_rss_mb": 12345.678, "gpu0_utilization_percent": 99.0}]


@pytest.fixture
def sampled(ws, monkeypatch):
    """A run whose only system metrics are SAMPLES (the sampler off, the samples queued as the
    sampler queues them), with one user metric, and a child run (whose samples are its parent's)."""
    from tailrun import Experiment
    from tailrun.wire import SYSTEM
    monkeypatch.setenv("TAILRUN_SYSTEM_METRICS", "0")
    run = Experiment(ws, "export-system").start_logging(outputs=False, snapshot_directory=None)
    run.log("loss", 0.5)
    for index, sample in enumerate(SAMPLES):
        run._recorder().queue.append((SYSTEM, run.id, "", {f"system/{k}": v for k, v in sample.items()},
                                      index, 1_700_000_000.0 + index / 3))
    child = run.child_run("kid")
    child.complete()
    run.complete()
    return run, child


def expected_system_rows() -> list[tuple]:
    """(metric, kind, index, step, time, column, value) in the exported order: metric by metric,
    sample by sample; index counts the metric's own points, step is the sample's index."""
    names = dict.fromkeys(name for sample in SAMPLES for name in sample)
    rows = []
    for name in names:
        steps = [i for i, sample in enumerate(SAMPLES) if name in sample]
        rows += [(name, "system", index, step, 1_700_000_000.0 + step / 3, "", SAMPLES[step][name])
                 for index, step in enumerate(steps)]
    return rows


def test_export_has_the_system_metrics_in_every_format(service, sampled, tmp_path):
    run, child = sampled
    assert run.get_system_metrics() == {"cpu_percent": [0.1, 250.5, 0.0],
                                        "memory_rss_mb": [1 / 3, 1e-300, 12345.678],
                                        "gpu0_utilization_percent": [99.0]}
    for fmt in ("csv", "json", "parquet"):
        dest = tmp_path / fmt
        done = cli(service, "export", run.id, str(dest), "--format", fmt)
        assert done.returncode == 0, done.stderr
        suffix = {"csv": ".csv", "json": ".jsonl", "parquet": ".parquet"}[fmt]
        got = read_table(dest / run.id / f"system_metrics{suffix}", fmt)
        columns = ("metric", "kind", "index", "step", "time", "column", "value")
        assert [tuple(r[c] for c in columns) for r in got] == expected_system_rows()   # floats exact
        # The user's metrics file stays the user's; the child's samples are its parent's.
        assert [r["metric"] for r in read_table(dest / run.id / f"metrics{suffix}", fmt)] == ["loss"]
        assert read_table(dest / child.id / f"system_metrics{suffix}", fmt) == []

        # `tailrun metrics RUN --system --format` writes the same table.
        target = tmp_path / f"system{suffix}"
        shown = cli(service, "metrics", run.id, "--system", "--format", fmt, "-o", str(target))
        assert shown.returncode == 0, shown.stderr
        assert read_table(target, fmt) == got


def read_table(path: Path, fmt: str) -> list[dict]:
    """The rows of an exported metrics file, typed (CSV text parsed back: floats by repr)."""
    if fmt == "parquet":
        data = pq.read_table(path).to_pydict()
        return [dict(zip(data, row)) for row in zip(*data.values())]
    if fmt == "json":
        return [json.loads(line) for line in path.read_text().splitlines()]
    rows = list(csv.DictReader(open(path, newline="")))
    return [{**r, "index": int(r["index"]), "step": int(r["step"]) if r["step"] else None,
             "time": float(r["time"]), "value": float(r["value"])} for r in rows]

"""`tailrun import mlflow URI` against a real service, from an MLflow file store and a SQLite
tracking store that real MLflow wrote (in a child process); the command runs as a real
`python -m tailrun.cli` process."""
from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

MAKE_STORE = textwrap.dedent("""
    import json, math, os, sys
    import mlflow
    from mlflow import MlflowClient
    uri, art = sys.argv[1], sys.argv[2]
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    exp_id = client.create_experiment("ml exp/1", artifact_location=art)
    parent = client.create_run(exp_id, run_name="parent", start_time=1_700_000_000_123,
                               tags={"team": "vision", "mlflow.note.content": "the baseline"})
    pid = parent.info.run_id
    for step, (value, ts) in enumerate([(0.5, 1_700_000_001_000), (1 / 3, 1_700_000_002_500),
                                        (math.nan, 1_700_000_003_000), (-2.5e-300, 1_700_000_004_000)]):
        client.log_metric(pid, "loss", value, timestamp=ts, step=step * 10)
    client.log_metric(pid, "acc", 0.9, timestamp=1_700_000_005_000, step=0)
    client.log_param(pid, "lr", "0.001")
    client.log_param(pid, "long", "x" * 1500)
    os.makedirs("art/sub", exist_ok=True)
    open("art/model.txt", "w").write("weights")
    open("art/sub/cfg.json", "w").write('{"a": 1}')
    client.log_artifact(pid, "art/model.txt")
    client.log_artifacts(pid, "art/sub", artifact_path="config")
    child = client.create_run(exp_id, run_name="child", tags={"mlflow.parentRunId": pid},
                              start_time=1_700_000_006_000)
    client.log_metric(child.info.run_id, "c", 7.0, timestamp=1_700_000_007_000, step=3)
    client.set_terminated(child.info.run_id, "FINISHED", end_time=1_700_000_008_000)
    client.set_terminated(pid, "FINISHED", end_time=1_700_000_009_000)
    failed = client.create_run(exp_id, run_name="broken", start_time=1_700_000_010_000)
    client.set_terminated(failed.info.run_id, "FAILED", end_time=1_700_000_011_000)
    killed = client.create_run("0", run_name="stopped", start_time=1_700_000_012_000)
    client.set_terminated(killed.info.run_id, "KILLED", end_time=1_700_000_013_000)
    print(json.dumps({"parent": pid, "child": child.info.run_id, "failed": failed.info.run_id,
                      "killed": killed.info.run_id}))
""")


def make_store(tmp_path: Path, kind: str) -> tuple[str, dict]:
    where = tmp_path / f"store-{kind}"
    where.mkdir()
    uri = f"sqlite:///{where}/mlflow.db" if kind == "sqlite" else (where / "mlruns").as_uri()
    env = dict(os.environ, MLFLOW_ALLOW_FILE_STORE="true")   # MLflow 3 writes file stores only when asked
    proc = subprocess.run([sys.executable, "-c", MAKE_STORE, uri, (where / "artifacts").as_uri()],
                          capture_output=True, text=True, cwd=where, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr
    return uri, json.loads(proc.stdout.strip().splitlines()[-1])


def cli(service, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tailrun.cli", "import", "mlflow", *args,
                           "--address", service.address], capture_output=True, text=True, timeout=180)


def by_source(ws) -> dict[str, object]:
    client = ws._client()
    return {info.properties["tailrun.import.source"]: info for info in client.list_runs(include_children=True)}


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_import_store_exact(service, ws, tmp_path, kind):
    from tailrun import Run
    uri, ids = make_store(tmp_path, kind)
    source = uri if kind == "sqlite" else str(Path(uri[len("file://"):]))   # a file store as a plain folder
    out = cli(service, source)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.split()) == 4
    runs = by_source(ws)
    parent, child = runs[f"mlflow:{ids['parent']}"], runs[f"mlflow:{ids['child']}"]
    assert parent.experiment == "ml exp-1" and parent.display_name == "parent"
    assert parent.status == "Completed"
    assert (parent.start_time, parent.end_time) == (1_700_000_000.123, 1_700_000_009.0)
    assert parent.properties["lr"] == "0.001" and "long" not in parent.properties
    assert parent.tags["mlflow.param.long"] == "x" * 1500
    assert parent.tags["team"] == "vision" and parent.description == "the baseline"
    assert child.parent_run_id == parent.run_id and child.run_type == "child"
    assert runs[f"mlflow:{ids['failed']}"].status == "Failed"
    killed = runs[f"mlflow:{ids['killed']}"]
    assert killed.status == "Canceled" and killed.experiment == "Default"

    run = Run.get(ws, parent.run_id)
    loss = run.get_metric_series("loss")
    assert loss.steps == [0, 10, 20, 30]
    assert loss.times == [1_700_000_001.0, 1_700_000_002.5, 1_700_000_003.0, 1_700_000_004.0]
    assert loss.values[0] == 0.5 and loss.values[1] == 1 / 3 and math.isnan(loss.values[2])
    assert loss.values[3] == -2.5e-300
    assert sorted(run.get_file_names()) == ["config/cfg.json", "model.txt"]
    assert json.loads(ws._client().read_file_bytes(run.id, "config/cfg.json")) == {"a": 1}
    assert Run.get(ws, child.run_id).get_metric_series("c").steps == [3]

    again = cli(service, source)
    assert again.returncode == 0 and again.stdout == "" and again.stderr.count("already imported") == 4
    assert len(by_source(ws)) == 4


def test_experiment_option(service, ws, tmp_path):
    uri, _ = make_store(tmp_path, "sqlite")
    out = cli(service, uri, "--experiment", "from-mlflow")
    assert out.returncode == 0, out.stderr
    assert {info.experiment for info in by_source(ws).values()} == {"from-mlflow"}


def test_bad_stores_import_nothing(service, ws, tmp_path):
    missing = cli(service, str(tmp_path / "nope"))
    assert missing.returncode == 1 and "no such folder" in missing.stderr
    no_db = cli(service, f"sqlite:///{tmp_path}/nope.db")
    assert no_db.returncode == 1 and "no such SQLite file" in no_db.stderr
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table t (x)").connection.commit()
    not_mlflow = cli(service, f"sqlite:///{other}")
    assert not_mlflow.returncode == 1 and "not an MLflow tracking database" in not_mlflow.stderr
    (tmp_path / "plain").mkdir()
    plain = cli(service, str(tmp_path / "plain"))
    assert plain.returncode == 1 and "not an MLflow file store" in plain.stderr
    assert not (tmp_path / "plain" / ".trash").exists()                 # the folder was left alone
    http = cli(service, "http://127.0.0.1:1")
    assert http.returncode == 1 and "only an MLflow file store" in http.stderr

    uri, ids = make_store(tmp_path, "file")
    root = Path(uri[len("file://"):])
    [metric_file] = root.glob(f"*/{ids['parent']}/metrics/loss")
    metric_file.write_text(metric_file.read_text() + "not a metric line\n")
    corrupt = cli(service, uri)
    assert corrupt.returncode == 1 and corrupt.stdout == ""
    assert f"run {ids['parent']}, file {metric_file}" in corrupt.stderr and "malformed" in corrupt.stderr
    assert ws._client().list_runs(include_children=True) == []


def test_missing_mlflow_names_the_extra(service, run_script, tmp_path):
    code = ("import sys; sys.modules['mlflow'] = None\n"
            "from tailrun.cli import main\n"
            f"sys.exit(main(['import', 'mlflow', {str(tmp_path)!r}]))\n")
    out = run_script(code)
    assert out.returncode == 1 and "pip install 'tailrun[mlflow]'" in out.stderr

"""MLflow's client API on tailrun, with the real `mlflow` package and a real service: scripts that
log through `mlflow` (fluent API, in real child processes) land as tailrun runs, live; MlflowClient
reads tailrun runs back (those MLflow logged and those the tailrun SDK logged)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

MLFLOW_SCRIPT = textwrap.dedent("""
    import json, os, sys
    import mlflow
    from tailrun import Workspace
    ws = Workspace.from_config()
    mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())
    mlflow.set_experiment("mlflow-exp")
    with mlflow.start_run(run_name="train") as run:
        mlflow.log_metric("loss", 0.5, step=1, timestamp=1_700_000_000_250)
        mlflow.log_metric("loss", 1 / 3, step=2, timestamp=1_700_000_001_500)
        mlflow.log_metric("loss", float("nan"), step=3, timestamp=1_700_000_002_000)
        mlflow.log_metrics({"acc": 0.75, "f1": 0.5}, step=7)
        mlflow.log_param("lr", 0.001)
        mlflow.log_params({"batch": 32, "opt": "adam"})
        mlflow.set_tag("stage", "dev")
        os.makedirs("out/sub", exist_ok=True)
        open("out/model.txt", "w").write("weights")
        open("out/sub/cfg.json", "w").write("{}")
        mlflow.log_artifact("out/model.txt")
        mlflow.log_artifact("out/model.txt", artifact_path="checkpoints")
        mlflow.log_artifacts("out/sub", artifact_path="config")
        with mlflow.start_run(run_name="fold-1", nested=True) as child:
            mlflow.log_metric("fold_acc", 0.9, step=0)
        print(json.dumps({"run": run.info.run_id, "child": child.info.run_id}), flush=True)
        sys.stdin.readline()        # the test looks at the run while it is live
    try:
        with mlflow.start_run(run_name="crash"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
""")


def start_script(service, tmp_path):
    cwd = tmp_path / "script"
    cwd.mkdir()
    (cwd / ".tailrun").mkdir()
    (cwd / ".tailrun" / "config.json").write_text(json.dumps({"address": service.address}))
    return subprocess.Popen([sys.executable, "-c", MLFLOW_SCRIPT], cwd=cwd, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_mlflow_logs_into_tailrun(service, ws, tmp_path):
    from tailrun import Run
    proc = start_script(service, tmp_path)
    line = proc.stdout.readline()
    assert line, proc.stderr.read()
    ids = json.loads(line)
    live = Run.get(ws, ids["run"])
    assert live.get_status() == "Running"                              # live, as any run
    assert live.get_metric_series("loss").steps == [1, 2, 3]
    proc.stdin.write("\n")
    proc.stdin.close()
    assert proc.wait(120) == 0, proc.stderr.read()

    run = Run.get(ws, ids["run"])
    assert run.experiment.name == "mlflow-exp" and run.display_name == "train"
    assert run.get_status() == "Completed"
    loss = run.get_metric_series("loss")
    assert loss.times == [1_700_000_000.25, 1_700_000_001.5, 1_700_000_002.0]
    assert loss.values[:2] == [0.5, 1 / 3] and math.isnan(loss.values[2])
    assert run.get_metric_series("acc").steps == [7]
    assert run.get_properties() == {"lr": "0.001", "batch": "32", "opt": "adam"}
    tags = run.get_tags()
    assert tags["stage"] == "dev" and tags["mlflow.runName"] == "train"
    assert sorted(run.get_file_names()) == ["checkpoints/model.txt", "config/cfg.json", "model.txt"]
    child = Run.get(ws, ids["child"])
    assert child.parent is not None and child.parent.id == ids["run"]
    assert child.get_metric_series("fold_acc").values == [0.9]
    crashed = [r for r in ws._client().list_runs(experiment="mlflow-exp") if r.display_name == "crash"]
    assert [r.status for r in crashed] == ["Failed"]

    # and MLflow reads all of it back
    client = MlflowClient(tracking_uri=ws.get_mlflow_tracking_uri())
    got = client.get_run(ids["run"])
    assert got.info.status == "FINISHED" and got.info.run_name == "train"
    assert got.data.params == {"lr": "0.001", "batch": "32", "opt": "adam"}
    assert got.data.metrics["acc"] == 0.75 and got.data.tags["stage"] == "dev"
    history = client.get_metric_history(ids["run"], "loss")
    assert [(m.step, m.timestamp) for m in history] == [(1, 1_700_000_000_250), (2, 1_700_000_001_500),
                                                        (3, 1_700_000_002_000)]
    assert history[1].value == 1 / 3
    assert [f.path for f in client.list_artifacts(ids["run"])] == ["checkpoints", "config", "model.txt"]
    local = client.download_artifacts(ids["run"], "config/cfg.json", str(tmp_path))
    assert open(local).read() == "{}"
    exp = client.get_experiment_by_name("mlflow-exp")
    found = client.search_runs([exp.experiment_id], "params.opt = 'adam'")
    assert [r.info.run_id for r in found] == [ids["run"]]
    nested = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{ids['run']}'")
    assert [r.info.run_id for r in nested] == [ids["child"]]
    assert client.get_run(ids["child"]).data.tags["mlflow.parentRunId"] == ids["run"]


def test_mlflow_reads_sdk_runs(service, ws):
    from tailrun import Experiment
    run = Experiment(ws, "sdk-exp").start_logging(outputs=False, display_name="sdk", snapshot_directory=None)
    for step, value in enumerate([0.25, 0.125, 1e-300]):
        run.log("loss", value, step=step)
    run.add_properties({"seed": 7})
    run.tag("who", "sdk")
    run.complete()
    times = run.get_metric_series("loss").times

    client = MlflowClient(tracking_uri=ws.get_mlflow_tracking_uri())
    got = client.get_run(run.id)
    assert got.info.status == "FINISHED" and got.info.run_name == "sdk"
    assert got.data.params == {"seed": "7"} and got.data.tags["who"] == "sdk"
    assert got.data.metrics == {"loss": 1e-300}
    history = client.get_metric_history(run.id, "loss")
    assert [m.value for m in history] == [0.25, 0.125, 1e-300]
    assert [m.timestamp for m in history] == [round(t * 1000) for t in times]
    exp = client.get_experiment_by_name("sdk-exp")
    assert [r.info.run_id for r in client.search_runs([exp.experiment_id])] == [run.id]
    names = [e.name for e in client.search_experiments(view_type=ViewType.ALL)]
    assert "sdk-exp" in names


def test_mlflow_errors(service, ws):
    from tailrun import Experiment
    client = MlflowClient(tracking_uri=ws.get_mlflow_tracking_uri())
    with pytest.raises(MlflowException) as missing:
        client.get_run("no-such-run")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert client.get_experiment_by_name("nope") is None
    with pytest.raises(MlflowException, match="no experiment with id"):
        client.get_experiment("12345")
    exp_id = client.create_experiment("made-by-mlflow")
    with pytest.raises(MlflowException) as twice:
        client.create_experiment("made-by-mlflow")
    assert twice.value.error_code == "RESOURCE_ALREADY_EXISTS"
    run = client.create_run(exp_id)
    client.log_param(run.info.run_id, "p", "1")
    with pytest.raises(MlflowException) as changed:
        client.log_param(run.info.run_id, "p", "2")
    assert changed.value.error_code == "INVALID_PARAMETER_VALUE" and "add-only" in str(changed.value)
    with pytest.raises(MlflowException, match="does not delete runs"):
        client.delete_run(run.info.run_id)
    client.set_terminated(run.info.run_id, "KILLED")
    assert client.get_run(run.info.run_id).info.status == "KILLED"
    assert "made-by-mlflow" in [e.name for e in Experiment.list(ws)]


def test_tracking_uri_and_token(service_factory, tmp_path):
    """The URI never holds the token; this process's MLflow uses the workspace's token."""
    from tailrun import Workspace
    from recorder_reset import reset_recorder
    secure = service_factory(token="s3cret-token", data_dir=tmp_path / "secure")
    reset_recorder()
    try:
        ws = Workspace(address=f"127.0.0.1:{secure.port}", token="s3cret-token")
        uri = ws.get_mlflow_tracking_uri()
        assert uri == f"tailrun://127.0.0.1:{secure.port}" and "s3cret" not in uri
        client = MlflowClient(tracking_uri=uri)
        exp_id = client.create_experiment("with-token")
        run = client.create_run(exp_id, run_name="r")
        client.log_metric(run.info.run_id, "m", 1.5, step=0)
        client.set_terminated(run.info.run_id)
        assert client.get_metric_history(run.info.run_id, "m")[0].value == 1.5
        assert Workspace(address=f"127.0.0.1:{secure.port}", token="s3cret-token").get_run(
            run.info.run_id).get_status() == "Completed"
    finally:
        reset_recorder()

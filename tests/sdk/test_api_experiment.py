"""Workspace and Experiment against a real service: configuration, listing, archiving, run lookup."""
from __future__ import annotations

import json

import pytest

from api_helpers import start
from tailrun import Experiment, Run, Workspace
from tailrun.exceptions import RunNotFound, ServiceUnavailable


def test_workspace_settings_and_config_files(tmp_path, monkeypatch):
    assert Workspace(address="h:1", token="t").settings.token == "t"
    monkeypatch.setenv("TAILRUN_ADDRESS", "env-host:2")
    assert Workspace().address == "env-host:2"
    # Azure ML's arguments are accepted and ignored
    assert Workspace(subscription_id="s", resource_group="g", workspace_name="w").address == "env-host:2"
    azure = Workspace("12345678-1234-1234-1234-123456789abc", "my-rg", "my-ws")
    assert azure.address == "env-host:2" and azure.name == "my-ws"

    project = tmp_path / "project"
    (project / "src" / "deep").mkdir(parents=True)
    (project / ".tailrun").mkdir()
    (project / ".tailrun" / "config.json").write_text(json.dumps({"address": "cfg-host:3", "token": "secret"}))
    monkeypatch.chdir(project / "src" / "deep")          # found by walking up
    found = Workspace.from_config()
    assert (found.address, found.settings.token) == ("cfg-host:3", "secret")
    (tmp_path / "other.json").write_text(json.dumps({"address": "file-host:4", "ca_file": "ca.pem"}))
    explicit = Workspace.from_config(str(tmp_path / "other.json"))
    assert explicit.address == "file-host:4" and explicit.settings.ca_file == str(tmp_path / "ca.pem")
    monkeypatch.chdir(tmp_path)                         # no config file: the environment
    assert Workspace.from_config().address == "env-host:2"
    with pytest.raises(FileNotFoundError, match="config file not found"):
        Workspace.from_config(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ValueError, match="cannot read the tailrun workspace config"):
        Workspace.from_config(str(tmp_path / "bad.json"))


def test_experiment_runs_are_listed_newest_first(ws):
    exp = Experiment(ws, "my exp")
    runs = [exp.start_logging(outputs=False, tags={"i": i}) for i in range(3)]
    runs[1].add_properties({"chosen": "yes"})
    runs[2].complete()
    assert [r.id for r in exp.get_runs()] == [r.id for r in reversed(runs)]
    assert [r.id for r in exp.get_runs(tags={"i": "1"})] == [runs[1].id]
    assert [r.id for r in exp.get_runs(properties="chosen")] == [runs[1].id]
    assert [r.id for r in Run.list(exp, status="Completed")] == [runs[2].id]
    assert [r.number for r in exp.get_runs()] == [3, 2, 1]
    assert all(r.experiment == exp for r in exp.get_runs())
    assert isinstance(exp.id, str) and exp.id


def test_list_archive_reactivate(ws):
    a, b = Experiment(ws, "exp-a"), Experiment(ws, "exp-b")
    start(ws, "exp-a").complete()
    names = {e.name for e in Experiment.list(ws)}
    assert {"exp-a", "exp-b"} <= names
    assert [e.name for e in Experiment.list(ws, experiment_name="exp-b")] == ["exp-b"]
    a.archive()
    assert a.archived_time is not None
    assert "exp-a" not in {e.name for e in Experiment.list(ws)}
    assert "exp-a" in {e.name for e in Experiment.list(ws, view_type="ArchivedOnly")}
    assert "exp-a" in {e.name for e in Experiment.list(ws, view_type="All")}
    a.reactivate()
    assert "exp-a" in {e.name for e in Experiment.list(ws)}
    assert b.archived_time is None
    with pytest.raises(ValueError, match="view_type must be"):
        Experiment.list(ws, view_type="Everything")


def test_run_get_errors(ws, tmp_path):
    start(ws).flush()
    with pytest.raises(RunNotFound, match="no run 'no-such-run'"):
        Run.get(ws, "no-such-run")
    dead = Workspace(address="127.0.0.1:1")
    with pytest.raises(ServiceUnavailable, match="cannot reach the tailrun service at 127.0.0.1:1"):
        Run.get(dead, "x")


def test_core_and_train_import_paths():
    import tailrun.core as core
    from tailrun.core import Experiment as E, Run as R, Workspace as W
    from tailrun.train.estimator import Estimator
    assert (E, R, W) == (Experiment, Run, Workspace)
    assert core.ScriptRunConfig.__name__ == "ScriptRunConfig"
    assert core.RunConfiguration.__name__ == "RunConfiguration"
    assert core.Environment.__name__ == "Environment"
    assert Estimator.__name__ == "Estimator"

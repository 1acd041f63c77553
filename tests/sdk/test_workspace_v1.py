"""Workspace's Azure ML v1 surface against a real service: the names notebooks print,
get_details, experiments, compute_targets, get_run, Workspace.get and write_config/from_config."""
from __future__ import annotations

import json

from tailrun import Experiment, Workspace
from tailrun.compute import ComputeTarget

SUB = "12345678-1234-1234-1234-123456789abc"


def test_names_default_and_given(tmp_path, monkeypatch):
    monkeypatch.setenv("TAILRUN_ADDRESS", "env-host:2")
    plain = Workspace()
    assert (plain.name, plain.location, plain.subscription_id, plain.resource_group) == \
        ("local", "env-host:2", "", "local")
    azure = Workspace(SUB, "my-rg", "my-ws")
    assert (azure.name, azure.subscription_id, azure.resource_group, azure.address) == \
        ("my-ws", SUB, "my-rg", "env-host:2")
    # a subscription id that is no GUID is still Azure's positional form, never an error
    named = Workspace("my-sub", "my-rg", "my-ws")
    assert (named.name, named.subscription_id, named.address) == ("my-ws", "my-sub", "env-host:2")
    keyword = Workspace(subscription_id="s", resource_group="g", workspace_name="w", auth=object())
    assert (keyword.name, keyword.subscription_id, keyword.resource_group) == ("w", "s", "g")
    monkeypatch.delenv("TAILRUN_ADDRESS")
    assert Workspace().location == "local"


def test_get_details_experiments_compute_targets_and_get_run(ws, service):
    ws.subscription_id, ws.resource_group, ws.name = SUB, "rg", "team"
    details = ws.get_details()
    assert details["name"] == "team" and details["subscriptionId"] == SUB and details["resourceGroup"] == "rg"
    assert details["id"] == f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/team"
    assert details["location"] == service.address == details["serviceAddress"]

    run = Experiment(ws, "exp-a").start_logging(outputs=False)
    run.log("loss", 0.5)
    run.complete()
    Experiment(ws, "exp-b").start_logging(outputs=False).complete()
    experiments = ws.experiments
    assert {"exp-a", "exp-b"} <= set(experiments)
    assert isinstance(experiments["exp-a"], Experiment) and experiments["exp-a"].id

    targets = ws.compute_targets
    assert list(targets) == ["local"] and isinstance(targets["local"], ComputeTarget)

    found = ws.get_run(run.id)
    assert found.id == run.id and found.experiment.name == "exp-a"
    assert found.get_metrics()["loss"] == 0.5
    assert ws.environments == {}   # none registered yet (tests/sdk/test_environments.py)


def test_write_config_round_trips_and_get(tmp_path, monkeypatch, ws, service):
    ws.subscription_id, ws.resource_group, ws.name = SUB, "rg", "team"
    written = ws.write_config(path=str(tmp_path))
    assert written == str(tmp_path / ".tailrun" / "config.json")
    data = json.loads((tmp_path / ".tailrun" / "config.json").read_text())
    assert data == {"address": service.address, "workspace_name": "team", "subscription_id": SUB,
                    "resource_group": "rg"}          # no token in the file
    monkeypatch.setenv("TAILRUN_TOKEN", service.token or "")
    monkeypatch.chdir(tmp_path)
    again = Workspace.from_config()
    assert again == ws and (again.name, again.subscription_id, again.resource_group) == ("team", SUB, "rg")
    assert again.compute_targets and Workspace.from_config(written).address == service.address
    other = ws.write_config(path=str(tmp_path / "sub"), file_name="ws.json")
    assert Workspace.from_config(other).name == "team"

    got = Workspace.get("renamed", subscription_id="s2", resource_group="g2")
    assert (got.name, got.subscription_id, got.resource_group, got.address) == ("renamed", "s2", "g2", service.address)


def test_from_config_reads_azure_config_json(tmp_path, monkeypatch):
    monkeypatch.setenv("TAILRUN_ADDRESS", "env-host:2")
    (tmp_path / ".azureml").mkdir()
    (tmp_path / ".azureml" / "config.json").write_text(json.dumps(
        {"subscription_id": SUB, "resource_group": "rg", "workspace_name": "azure-ws"}))
    monkeypatch.chdir(tmp_path)
    ws = Workspace.from_config()
    assert (ws.name, ws.subscription_id, ws.resource_group, ws.address) == ("azure-ws", SUB, "rg", "env-host:2")
    # a config address without a port and a ca_file is the service, not Azure's positional form
    (tmp_path / "c.json").write_text(json.dumps({"address": "myhost", "ca_file": "none.pem", "workspace_name": "x"}))
    cfg = Workspace.from_config(str(tmp_path / "c.json"))
    assert cfg.address == "myhost" and cfg.name == "x"

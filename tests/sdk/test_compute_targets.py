"""Compute targets by name, from the service (no Slurm needed): ComputeTarget lookup, list,
ws.compute_targets, an unknown name in the SDK and in SubmitRun, the compute config's checks,
and `tailrun compute list`."""
from __future__ import annotations

import subprocess
import sys

import grpc
import pytest

from tailrun import Experiment, ScriptRunConfig, Workspace
from tailrun.compute import ComputeTarget
from tailrun.exceptions import ComputeTargetException

GPU_CLUSTER = {"targets": {"gpu-cluster": {"kind": "slurm", "partition": "gpu", "gpus": 2, "account": "ml"}}}


@pytest.fixture
def cluster_service(service_factory):
    return service_factory(compute_config=GPU_CLUSTER)


def test_local_always_exists(ws):
    local = ComputeTarget(workspace=ws, name="local")
    assert (local.name, local.type, local.provisioning_state) == ("local", "local", "Succeeded")
    assert "this service's machine" in local.status_detail and local.get_status() == "Succeeded"
    assert ComputeTarget.list(ws) == [local] and list(ws.compute_targets) == ["local"]


def test_configured_targets_are_listed_and_looked_up(cluster_service):
    ws = Workspace(address=cluster_service.address)
    assert [t.name for t in ComputeTarget.list(ws)] == ["local", "gpu-cluster"]
    assert list(ws.compute_targets) == ["local", "gpu-cluster"]
    gpu = ComputeTarget(workspace=ws, name="gpu-cluster")
    assert gpu.type == "slurm" and gpu.properties["partition"] == "gpu"
    assert gpu.properties["gpus"] == "2" and gpu.properties["account"] == "ml"
    # No such partition here (no Slurm at all, or a test cluster without it): not usable, and says why.
    assert gpu.provisioning_state == "Unavailable" and gpu.status_detail
    assert gpu.serialize()["type"] == "slurm"


def test_unknown_name_names_the_known_targets(cluster_service, tmp_path):
    ws = Workspace(address=cluster_service.address)
    with pytest.raises(ComputeTargetException, match=r"'cpu-cluster' was not found.*known compute targets are "
                                                     r"'local', 'gpu-cluster'"):
        ComputeTarget(workspace=ws, name="cpu-cluster")
    (tmp_path / "train.py").write_text("print(1)\n")
    config = ScriptRunConfig(str(tmp_path), script="train.py", compute_target="cpu-cluster")
    with pytest.raises(ComputeTargetException, match=r"unknown compute target 'cpu-cluster'; the known compute "
                                                     r"targets are 'local', 'gpu-cluster'"):
        Experiment(ws, "targets").submit(config)
    assert not cluster_service.store.list_runs_page(_all_runs()).runs   # nothing was created


def test_submit_run_refuses_an_unknown_target_over_grpc(cluster_service):
    import json

    from tailrun.v1 import tailrun_pb2 as pb
    from tailrun.v1 import tailrun_pb2_grpc as pb_grpc

    definition = {"script": "train.py", "target": "tpu-pod"}
    spec = pb.SubmitSpec(experiment="targets", run_id="targets_1_abcdef01", run_definition_json=json.dumps(definition))
    with grpc.insecure_channel(cluster_service.address) as channel:
        with pytest.raises(grpc.RpcError) as caught:
            pb_grpc.TrackerStub(channel).SubmitRun(iter([pb.SubmitRequest(spec=spec)]), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "unknown compute target 'tpu-pod'; the known compute targets are 'local', 'gpu-cluster'" in \
        caught.value.details()


def test_a_target_object_is_accepted_as_compute_target(ws, tmp_path):
    (tmp_path / "train.py").write_text("print(1)\n")
    local = ComputeTarget(ws, "local")
    assert ScriptRunConfig(str(tmp_path), script="train.py", compute_target=local)._definition()["target"] == "local"


@pytest.mark.parametrize("config, message", [
    ({"targets": {"local": {"kind": "slurm", "partition": "x"}}}, "target 'local' is built in"),
    ({"targets": {"k8s": {"kind": "kubernetes"}}}, "kind 'kubernetes' is not one of 'slurm'"),
    ({"targets": {"c": {"kind": "slurm"}}}, "targets.c: a slurm target needs a partition"),
    ({"targets": {"c": {"kind": "slurm", "partition": "p", "nodes": 2}}}, "unknown key 'nodes'"),
    ({"targets": {"c": {"kind": "slurm", "partition": "p", "cpus_per_task": "4"}}}, "cpus_per_task has the wrong type"),
    ({"targets": {"bad name": {"kind": "slurm", "partition": "p"}}}, "target name 'bad name' must be"),
    ({"target": {}}, "unknown top-level key(s) 'target'"),
])
def test_bad_compute_configs_are_refused_at_start(service_factory, config, message):
    from tailrun_service.server import ServeError

    with pytest.raises(ServeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        service_factory(compute_config=config)


def test_server_cli_names_a_bad_config_file(tmp_path):
    bad = tmp_path / "compute.toml"
    bad.write_text("[targets.cpu]\nkind = 'slurm'\npartition = \n")
    done = subprocess.run([sys.executable, "-m", "tailrun_service", "--port", "0", "--data-dir",
                           str(tmp_path / "data"), "--compute-config", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"the compute config '{bad}' is not valid TOML" in done.stderr


def test_compute_list_cli(cluster_service):
    done = subprocess.run([sys.executable, "-m", "tailrun.cli", "compute", "list", "--address",
                           cluster_service.address], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "STATE", "DETAIL"]
    assert lines[1].split()[:3] == ["local", "local", "Succeeded"]
    assert lines[2].split()[:3] == ["gpu-cluster", "slurm", "Unavailable"]


def _all_runs():
    from tailrun.v1 import tailrun_pb2 as pb

    return pb.ListRunsRequest(include_children=True)

"""Azure ML's framework estimators (SKLearn, PyTorch, TensorFlow, Chainer) and distributed-training
objects (Mpi, Gloo, Nccl, ParameterServer): the run definition each produces, the framework never
installed behind the user's back, bad arguments refused, and real submitted runs."""
from __future__ import annotations

import importlib.metadata
import warnings
from pathlib import Path

import pytest

from tailrun.core import Experiment
from tailrun.exceptions import TrainingException
from tailrun.train.dnn import Chainer, Gloo, Mpi, Nccl, ParameterServer, PyTorch, TensorFlow
from tailrun.train.estimator import Estimator
from tailrun.train.sklearn import SKLearn

TRAIN = """\
import argparse
from tailrun.core.run import Run

parser = argparse.ArgumentParser()
parser.add_argument('--alpha', type=float)
args = parser.parse_args()
run = Run.get_context()
run.log('alpha', args.alpha)
print('trained with alpha', args.alpha)
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text(TRAIN)
    return tmp_path


def _definition(estimator) -> dict:
    return estimator.run_config._to_dict()


def _distribution(definition: dict) -> tuple:
    return (definition["framework"], definition["communicator"], definition["node_count"])


def _pip(definition: dict) -> list:
    return definition["environment"]["python"]["conda_dependencies"]["pip_packages"]


def test_pytorch_with_nccl_is_a_pytorch_job_and_installs_no_torch(folder) -> None:
    estimator = PyTorch(source_directory=str(folder), entry_script="train.py", node_count=2,
                        distributed_training=Nccl(), use_gpu=True, pip_packages=["pillow"],
                        script_params={"--alpha": 0.5})
    definition = _definition(estimator)
    assert _distribution(definition) == ("PyTorch", "Nccl", 2)
    assert definition["pytorch"] == {"communication_backend": "nccl", "process_count": 2, "node_count": 2}
    assert _pip(definition) == ["pillow"]        # no torch: the one installed where the script runs is used
    assert definition["environment"]["docker"]["base_image"].endswith("cuda11.1-cudnn8-ubuntu20.04")
    assert definition["arguments"] == ["--alpha", "0.5"]


def test_pytorch_gloo_backend_string_counts_every_process(folder) -> None:
    definition = _definition(PyTorch(str(folder), entry_script="train.py", node_count=2,
                                     process_count_per_node=2, distributed_backend="gloo"))
    assert _distribution(definition) == ("PyTorch", "Gloo", 2)
    assert definition["pytorch"] == {"communication_backend": "gloo", "process_count": 4, "node_count": 2}


def test_mpi_is_an_intel_mpi_job(folder) -> None:
    definition = _definition(Chainer(str(folder), entry_script="train.py", node_count=2,
                                     distributed_training=Mpi(process_count_per_node=2)))
    assert _distribution(definition) == ("Python", "IntelMpi", 2)
    assert definition["mpi"] == {"process_count_per_node": 2, "node_count": 2}
    definition = _definition(Estimator(str(folder), entry_script="train.py", distributed_backend="mpi",
                                       process_count_per_node=3))
    assert _distribution(definition) == ("Python", "IntelMpi", 1)
    assert definition["mpi"] == {"process_count_per_node": 3, "node_count": 1}


def test_tensorflow_parameter_server(folder) -> None:
    definition = _definition(TensorFlow(str(folder), entry_script="train.py",
                                        distributed_training=ParameterServer(worker_count=2)))
    assert _distribution(definition) == ("TensorFlow", "ParameterServer", 3)
    assert definition["tensorflow"] == {"worker_count": 2, "parameter_server_count": 1}


def test_without_distribution_the_run_is_plain_python(folder) -> None:
    for estimator in (SKLearn(str(folder), entry_script="train.py"), PyTorch(str(folder), entry_script="train.py"),
                      TensorFlow(str(folder), entry_script="train.py"), Chainer(str(folder), entry_script="train.py")):
        definition = _definition(estimator)
        assert _distribution(definition) == ("Python", "None", 1)
        assert _pip(definition) == []


@pytest.mark.parametrize("cls, package", [(SKLearn, "scikit-learn"), (PyTorch, "torch"),
                                          (TensorFlow, "tensorflow"), (Chainer, "chainer")])
def test_framework_version_warns_once_that_nothing_is_installed(folder, cls, package) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator = cls(str(folder), entry_script="train.py", framework_version="1.6")
    assert [str(w.message) for w in caught] == [
        f"tailrun: {cls.__name__}(framework_version='1.6') installs nothing: the script uses the {package} "
        f"installed where it runs (put '{package}==1.6' in pip_packages to have it installed)"]
    assert caught[0].filename == __file__           # points at the user's line
    assert estimator.framework_version == "1.6" and _pip(_definition(estimator)) == []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cls(str(folder), entry_script="train.py")
    assert caught == []


def test_supported_versions_are_the_installed_one() -> None:
    try:
        installed = [importlib.metadata.version("torch")]
    except importlib.metadata.PackageNotFoundError:
        installed = []
    assert PyTorch.get_supported_versions() == installed


@pytest.mark.parametrize("make, message", [
    (lambda f: PyTorch(f, entry_script="train.py", distributed_training="nccl"),
     "distributed_training must be Mpi(), Gloo(), Nccl() or ParameterServer() (from tailrun.train.dnn), not str"),
    (lambda f: PyTorch(f, entry_script="train.py", distributed_backend="horovod"),
     "unknown distributed_backend 'horovod': use one of 'mpi', 'gloo', 'nccl', 'ps'"),
    (lambda f: PyTorch(f, entry_script="train.py", distributed_backend="mpi", distributed_training=Mpi()),
     "pass distributed_training or distributed_backend, not both"),
    (lambda f: SKLearn(f, entry_script="train.py", node_count=2),
     "SKLearn runs on one node with one process (as in Azure ML): node_count cannot be set"),
    (lambda f: SKLearn(f, entry_script="train.py", distributed_training=Mpi()),
     "SKLearn runs on one node with one process (as in Azure ML): distributed_training cannot be set"),
])
def test_bad_distribution_is_refused_naming_what_is_accepted(folder, make, message) -> None:
    with pytest.raises(TrainingException) as caught:
        make(str(folder))
    assert message in str(caught.value)


def test_a_submitted_sklearn_run_completes_with_its_metrics(ws, folder, capsys) -> None:
    estimator = SKLearn(source_directory=str(folder), entry_script="train.py", compute_target="local",
                        script_params={"--alpha": 0.25})
    run = Experiment(ws, "sklearn-estimator").submit(estimator)
    details = run.wait_for_completion(show_output=True)
    assert details["status"] == "Completed"
    assert "warnings" not in details
    assert run.get_metrics() == {"alpha": 0.25}
    assert "trained with alpha 0.25" in capsys.readouterr().out


def test_a_distributed_pytorch_run_on_local_says_what_was_ignored(ws, folder) -> None:
    estimator = PyTorch(source_directory=str(folder), entry_script="train.py", node_count=2,
                        distributed_training=Nccl(), script_params={"--alpha": 1})
    run = Experiment(ws, "pytorch-estimator").submit(estimator)
    details = run.wait_for_completion()
    assert details["status"] == "Completed"
    assert details["warnings"] == [
        "tailrun ignored: distributed training (communicator Nccl, node_count 2, pytorch process_count 2) "
        "(tailrun starts the script once, as one process)"]
    assert run.get_metrics() == {"alpha": 1.0}


def test_on_a_slurm_target_the_distribution_becomes_nodes_and_tasks(folder) -> None:
    from tailrun_service.compute.slurm import tasks_layout

    def layout(estimator) -> tuple[int, int]:
        return tasks_layout(_definition(estimator))

    assert layout(PyTorch(str(folder), entry_script="train.py", compute_target="gpu-cluster", node_count=2,
                          process_count_per_node=4, distributed_training=Nccl())) == (2, 4)
    assert layout(PyTorch(str(folder), entry_script="train.py", compute_target="gpu-cluster", node_count=2,
                          distributed_training=Gloo())) == (2, 1)
    assert layout(Chainer(str(folder), entry_script="train.py", compute_target="gpu-cluster", node_count=3,
                          distributed_training=Mpi(process_count_per_node=2))) == (3, 2)

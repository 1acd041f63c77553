"""Azure ML's (deprecated) framework estimators: `SKLearn` (`azureml.train.sklearn`), `PyTorch`,
`TensorFlow` and `Chainer` (`azureml.train.dnn`). Each is an Estimator (same arguments, same
submission) that also takes `framework_version`; PyTorch, TensorFlow and Chainer take
`distributed_training=Mpi() / Gloo() / Nccl() / ParameterServer()` as Azure ML's do.

Where tailrun differs, on purpose: Azure ML installs the framework into the run's image; tailrun
installs nothing for you. The script uses the framework installed where it runs — the service's
interpreter (every run's environment sees its packages), or a Slurm node's — so a GPU build already
on the machine is used and nothing (e.g. a multi-GB CUDA torch wheel) is downloaded behind your
back. `framework_version` is therefore not installed: giving it warns once, saying so; put
`"torch==1.13"` in `pip_packages` to have a version installed into the run's environment.
`get_supported_versions()` lists the version installed for the Python that calls it.
"""
from __future__ import annotations

import importlib.metadata
import warnings
from typing import Any

from .distributed_training import Gloo, Mpi, Nccl, ParameterServer
from .estimator import Estimator

__all__ = ["SKLearn", "PyTorch", "TensorFlow", "Chainer", "Mpi", "Gloo", "Nccl", "ParameterServer"]


class _FrameworkEstimator(Estimator):
    FRAMEWORK = ""          # the class name users write
    PACKAGE = ""            # the pip distribution of the framework
    SINGLE_NODE = False     # Azure ML's SKLearn runs on one node only

    def __init__(self, source_directory: str, *, framework_version: str | None = None, **kwargs: Any) -> None:
        if self.SINGLE_NODE:
            _refuse_distribution(self.FRAMEWORK, kwargs)
        if framework_version is not None:
            warnings.warn(
                f"tailrun: {self.FRAMEWORK}(framework_version={framework_version!r}) installs nothing: the script "
                f"uses the {self.PACKAGE} installed where it runs (put '{self.PACKAGE}=={framework_version}' in "
                "pip_packages to have it installed)", stacklevel=2)
        super().__init__(source_directory, **kwargs)
        self.framework_version = framework_version

    @classmethod
    def get_supported_versions(cls) -> list[str]:
        """The framework versions tailrun can run here: the one installed for this Python ([] if none)."""
        try:
            return [importlib.metadata.version(cls.PACKAGE)]
        except importlib.metadata.PackageNotFoundError:
            return []

    def __repr__(self) -> str:
        return (f"{self.FRAMEWORK}(source_directory={self.source_directory!r}, entry_script={self.entry_script!r}, "
                f"framework_version={self.framework_version!r})")


class SKLearn(_FrameworkEstimator):
    """A scikit-learn script (Azure ML's `azureml.train.sklearn.SKLearn`): an Estimator on one node."""
    FRAMEWORK, PACKAGE, SINGLE_NODE = "SKLearn", "scikit-learn", True


class PyTorch(_FrameworkEstimator):
    """A PyTorch script (`azureml.train.dnn.PyTorch`); distributed with Nccl(), Gloo() or Mpi()."""
    FRAMEWORK, PACKAGE = "PyTorch", "torch"


class TensorFlow(_FrameworkEstimator):
    """A TensorFlow script (`azureml.train.dnn.TensorFlow`); distributed with ParameterServer() or Mpi()."""
    FRAMEWORK, PACKAGE = "TensorFlow", "tensorflow"


class Chainer(_FrameworkEstimator):
    """A Chainer script (`azureml.train.dnn.Chainer`); distributed with Mpi() (ChainerMN)."""
    FRAMEWORK, PACKAGE = "Chainer", "chainer"


def _refuse_distribution(framework: str, kwargs: dict[str, Any]) -> None:
    from .script_run import TrainingException

    asked = [name for name in ("distributed_training", "distributed_backend") if kwargs.get(name) is not None]
    asked += [name for name in ("node_count", "process_count_per_node") if kwargs.get(name, 1) != 1]
    if asked:
        raise TrainingException(f"{framework} runs on one node with one process (as in Azure ML): "
                                f"{', '.join(asked)} cannot be set; use PyTorch, TensorFlow or Chainer, or "
                                "ScriptRunConfig(distributed_job_config=...)")

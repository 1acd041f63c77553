"""The distributed-training objects of Azure ML's (deprecated) estimators: `Mpi`, `Gloo`, `Nccl` and
`ParameterServer` (`azureml.train.dnn`), and the older `distributed_backend` strings ("mpi", "gloo",
"nccl", "ps") they replaced.

An Estimator turns them into the RunConfiguration's distributed job config, as
`ScriptRunConfig(distributed_job_config=...)` does: Mpi -> MpiConfiguration (communicator IntelMpi),
Gloo/Nccl -> PyTorchConfiguration (framework PyTorch, node_count x process_count_per_node
processes), ParameterServer -> TensorflowConfiguration (framework TensorFlow). On a Slurm target
they become the job's nodes and tasks; on "local" the run's "tailrun ignored: ..." line names them.
"""
from __future__ import annotations

from typing import Any

__all__ = ["Mpi", "Gloo", "Nccl", "ParameterServer", "resolve", "job_config"]


class Mpi:
    """MPI (e.g. Horovod): `process_count_per_node` processes on each of the estimator's nodes."""

    def __init__(self, process_count_per_node: int = 1) -> None:
        self.process_count_per_node = process_count_per_node

    def __repr__(self) -> str:
        return f"Mpi(process_count_per_node={self.process_count_per_node})"


class Gloo:
    """PyTorch's Gloo backend (torch.distributed), one process per node and process_count_per_node."""

    backend = "gloo"

    def __repr__(self) -> str:
        return "Gloo()"


class Nccl:
    """PyTorch's NCCL backend (torch.distributed), one process per node and process_count_per_node."""

    backend = "nccl"

    def __repr__(self) -> str:
        return "Nccl()"


class ParameterServer:
    """TensorFlow's parameter-server training: `worker_count` workers, `parameter_server_count` servers."""

    def __init__(self, worker_count: int = 1, parameter_server_count: int = 1) -> None:
        self.worker_count = worker_count
        self.parameter_server_count = parameter_server_count

    def __repr__(self) -> str:
        return f"ParameterServer(worker_count={self.worker_count}, parameter_server_count={self.parameter_server_count})"


_BACKENDS = {"mpi": Mpi, "gloo": Gloo, "nccl": Nccl, "ps": ParameterServer}


def resolve(distributed_training: Any, distributed_backend: str | None, process_count_per_node: int) -> Any:
    """The estimator's distribution (one of the classes above, or None); TrainingException for
    anything else, naming what is accepted."""
    from .script_run import TrainingException

    if distributed_backend is not None:
        if distributed_training is not None:
            raise TrainingException("pass distributed_training or distributed_backend, not both")
        key = str(distributed_backend).lower()
        if key not in _BACKENDS:
            raise TrainingException(f"unknown distributed_backend {distributed_backend!r}: use one of "
                                    f"{', '.join(repr(k) for k in _BACKENDS)} (or distributed_training=Mpi(), ...)")
        return Mpi(process_count_per_node) if key == "mpi" else _BACKENDS[key]()
    if distributed_training is None or isinstance(distributed_training, (Mpi, Gloo, Nccl, ParameterServer)):
        return distributed_training
    raise TrainingException(
        f"distributed_training must be Mpi(), Gloo(), Nccl() or ParameterServer() (from tailrun.train.dnn), "
        f"not {type(distributed_training).__name__}; with ScriptRunConfig use distributed_job_config=")


def job_config(distribution: Any, node_count: int, process_count_per_node: int) -> Any:
    """The RunConfiguration distributed job config of an estimator's distribution (None for none)."""
    from .runconfig import MpiConfiguration, PyTorchConfiguration, TensorflowConfiguration

    if isinstance(distribution, Mpi):
        return MpiConfiguration(process_count_per_node=distribution.process_count_per_node, node_count=node_count)
    if isinstance(distribution, (Gloo, Nccl)):
        return PyTorchConfiguration(communication_backend=distribution.backend,
                                    process_count=node_count * process_count_per_node, node_count=node_count)
    if isinstance(distribution, ParameterServer):
        return TensorflowConfiguration(worker_count=distribution.worker_count,
                                       parameter_server_count=distribution.parameter_server_count)
    return None

"""Azure ML's `azureml.train.dnn` import path: `from tailrun.train.dnn import PyTorch, Nccl`.

PyTorch, TensorFlow and Chainer live in tailrun.framework_estimators, Mpi, Gloo, Nccl and
ParameterServer in tailrun.distributed_training; they are loaded on first use.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_LAZY = {"PyTorch": "tailrun.framework_estimators", "TensorFlow": "tailrun.framework_estimators",
         "Chainer": "tailrun.framework_estimators", "Mpi": "tailrun.distributed_training",
         "Gloo": "tailrun.distributed_training", "Nccl": "tailrun.distributed_training",
         "ParameterServer": "tailrun.distributed_training"}
__all__ = list(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from ..distributed_training import Gloo, Mpi, Nccl, ParameterServer
    from ..framework_estimators import Chainer, PyTorch, TensorFlow

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)

"""Azure ML's `azureml.train.estimator` import path: `from tailrun.train.estimator import Estimator`.

Estimator lives in tailrun.script_run and is loaded on first use.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["Estimator"]

if TYPE_CHECKING:  # pragma: no cover
    from ..script_run import Estimator


def __getattr__(name: str) -> Any:
    if name != "Estimator":
        raise AttributeError(f"module 'tailrun.train.estimator' has no attribute {name!r}")
    value = getattr(importlib.import_module("tailrun.script_run"), name)
    globals()[name] = value
    return value

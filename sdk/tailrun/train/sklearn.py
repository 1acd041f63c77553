"""Azure ML's `azureml.train.sklearn` import path: `from tailrun.train.sklearn import SKLearn`.

SKLearn lives in tailrun.framework_estimators and is loaded on first use.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_LAZY = {"SKLearn": "tailrun.framework_estimators"}
__all__ = list(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from ..framework_estimators import SKLearn

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)

"""Azure ML's `azureml.data`, as far as pipelines use it: `OutputFileDatasetConfig` (a folder one
step writes and later steps read) and `DatasetConsumptionConfig` (its `as_input()`). Datasets and
datastores themselves are not part of tailrun."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_LAZY = {"OutputFileDatasetConfig": "tailrun.data.output_dataset_config",
         "DatasetConsumptionConfig": "tailrun.data.dataset_consumption_config"}
__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from .dataset_consumption_config import DatasetConsumptionConfig
    from .output_dataset_config import OutputFileDatasetConfig

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)

"""Azure ML's `azureml.core.dataset`: importable; tailrun has no datasets, so using Dataset raises
UserErrorException saying what to do instead (see tailrun.cloud_only)."""
from __future__ import annotations

from ..cloud_only import Dataset

__all__ = ["Dataset"]

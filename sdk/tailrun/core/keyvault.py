"""Azure ML's `azureml.core.keyvault`: importable; tailrun has no key vault, so using Keyvault
raises UserErrorException saying what to do instead (see tailrun.cloud_only)."""
from __future__ import annotations

from ..cloud_only import Keyvault

__all__ = ["Keyvault"]

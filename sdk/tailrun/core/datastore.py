"""Azure ML's `azureml.core.datastore`: importable; tailrun has no datastores, so using Datastore
raises UserErrorException saying what to do instead (see tailrun.cloud_only)."""
from __future__ import annotations

from ..cloud_only import Datastore

__all__ = ["Datastore"]

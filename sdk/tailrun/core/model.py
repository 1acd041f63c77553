"""Azure ML's `azureml.core.model`: the Model class (the registry of trained models), and
InferenceConfig, importable for deployment cells: tailrun deploys no models, so using it (or
`Model.deploy`) raises WebserviceException saying what to do instead."""
from __future__ import annotations

from ..cloud_only import InferenceConfig
from ..model import Model

__all__ = ["Model", "InferenceConfig"]

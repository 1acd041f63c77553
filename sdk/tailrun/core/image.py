"""Azure ML's `azureml.core.image`: importable; tailrun builds no images, so using these classes
raises WebserviceException saying what to do instead (see tailrun.cloud_only)."""
from __future__ import annotations

from ..cloud_only import ContainerImage, Image

__all__ = ["Image", "ContainerImage"]

"""Azure ML's `azureml.core.experiment`: the Experiment class."""
from __future__ import annotations

from ..experiment import Experiment

__all__ = ["Experiment"]

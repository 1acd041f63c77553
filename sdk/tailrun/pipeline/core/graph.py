"""Azure ML's `azureml.pipeline.core.graph`: `PipelineParameter` (a value given at submission) and
`InputPortBinding`; the graph classes of published pipelines import but are not supported."""
from __future__ import annotations

from typing import Any

from ..errors import PipelineConfigError, unsupported_class
from .builder import InputPortBinding

__all__ = ["PipelineParameter", "InputPortBinding", "PublishedPipeline", "PortDataReference",
           "OutputPortBinding", "Graph", "TrainingOutput"]

_WHY_PUBLISHED = "tailrun does not publish pipelines; submit the Pipeline to an experiment again"


class PipelineParameter:
    """A named value of a pipeline: in a step's `arguments` the script receives `default_value`,
    or the value given by `Experiment.submit(pipeline, pipeline_parameters={name: value})`."""

    def __init__(self, name: str, default_value: Any) -> None:
        if not isinstance(name, str) or not name:
            raise PipelineConfigError(f"PipelineParameter needs a name, got {name!r}")
        if isinstance(default_value, (list, dict, tuple, set)) or default_value is None:
            raise PipelineConfigError(f"PipelineParameter {name!r}: default_value must be a string, number "
                                      f"or bool, not {type(default_value).__name__}")
        self.name = name
        self.default_value = default_value

    def __repr__(self) -> str:
        return f"PipelineParameter(name={self.name!r}, default_value={self.default_value!r})"


PublishedPipeline = unsupported_class("PublishedPipeline", _WHY_PUBLISHED, __name__)
PortDataReference = unsupported_class(
    "PortDataReference", "data outside a pipeline run is not referenced; read a step's files instead", __name__)
OutputPortBinding = unsupported_class(
    "OutputPortBinding", "declare outputs with PipelineData or OutputFileDatasetConfig", __name__)
Graph = unsupported_class("Graph", "the pipeline's structure is its steps' inputs and outputs", __name__)
TrainingOutput = unsupported_class("TrainingOutput", "AutoML and HyperDrive steps are not supported", __name__)

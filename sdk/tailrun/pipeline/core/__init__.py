"""Azure ML's `azureml.pipeline.core`: `from tailrun.pipeline.core import Pipeline, PipelineData, ...`.

Submodules as in azureml (`builder`, `pipeline`, `graph`, `run`, `schedule`, `pipeline_endpoint`);
names are loaded on first use. Publishing, endpoints and schedules import but raise
`PipelineFeatureUnsupported` when used.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import lazy_exports

_LAZY = {"Pipeline": "tailrun.pipeline.core.pipeline",
         "PipelineData": "tailrun.pipeline.core.builder", "PipelineStep": "tailrun.pipeline.core.builder",
         "StepSequence": "tailrun.pipeline.core.builder",
         "PipelineRun": "tailrun.pipeline.core.run", "StepRun": "tailrun.pipeline.core.run",
         "StepRunOutput": "tailrun.pipeline.core.run",
         "PipelineParameter": "tailrun.pipeline.core.graph", "InputPortBinding": "tailrun.pipeline.core.graph",
         "PublishedPipeline": "tailrun.pipeline.core.graph", "PortDataReference": "tailrun.pipeline.core.graph",
         "OutputPortBinding": "tailrun.pipeline.core.graph", "TrainingOutput": "tailrun.pipeline.core.graph",
         "Schedule": "tailrun.pipeline.core.schedule", "ScheduleRecurrence": "tailrun.pipeline.core.schedule",
         "TimeZone": "tailrun.pipeline.core.schedule",
         "PipelineEndpoint": "tailrun.pipeline.core.pipeline_endpoint"}
__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from .builder import PipelineData, PipelineStep, StepSequence
    from .graph import (InputPortBinding, OutputPortBinding, PipelineParameter, PortDataReference,
                        PublishedPipeline, TrainingOutput)
    from .pipeline import Pipeline
    from .pipeline_endpoint import PipelineEndpoint
    from .run import PipelineRun, StepRun, StepRunOutput
    from .schedule import Schedule, ScheduleRecurrence, TimeZone

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)

"""Azure ML's `azureml.pipeline.core.pipeline_endpoint`: importable, not supported."""
from __future__ import annotations

from ..errors import unsupported_class

__all__ = ["PipelineEndpoint"]

PipelineEndpoint = unsupported_class(
    "PipelineEndpoint", "tailrun does not publish pipelines as endpoints; submit the Pipeline again", __name__)

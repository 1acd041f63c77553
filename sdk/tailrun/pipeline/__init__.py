"""Azure ML's `azureml.pipeline`: pipelines of steps executed by the service.

`tailrun.pipeline.core` (Pipeline, PipelineData, StepSequence, PipelineRun, StepRun, ...) and
`tailrun.pipeline.steps` (PythonScriptStep, ...) mirror `azureml.pipeline.core` and
`azureml.pipeline.steps`; `tailrun.data.OutputFileDatasetConfig` mirrors `azureml.data`'s.
"""

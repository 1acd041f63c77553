"""Pipelines (`azureml.pipeline`): the controller that runs a pipeline's steps as child runs
(controller.py) and what one step needs before it runs (steps.py). The definition's format and
graph checks are the SDK's (`tailrun.pipeline._dag`), so that both sides agree."""

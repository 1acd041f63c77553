"""The errors of pipelines: a step or pipeline built wrongly, a pipeline that does not validate,
and what Azure ML's pipelines can do that tailrun's do not (publishing, endpoints, schedules,
step types other than PythonScriptStep)."""
from __future__ import annotations

from typing import Any, NoReturn

from ..script_run import UserErrorException

__all__ = ["PipelineConfigError", "PipelineValidationError", "PipelineFeatureUnsupported"]


class PipelineConfigError(UserErrorException):
    """A step, data object or pipeline constructed with a wrong argument (raised at once)."""


class PipelineValidationError(UserErrorException):
    """`Experiment.submit(pipeline)` on a pipeline whose `validate()` found errors; `.errors` lists them."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("the pipeline is not valid, nothing was submitted:\n"
                         + "\n".join(f"  - {e}" for e in self.errors))


class PipelineFeatureUnsupported(UserErrorException, NotImplementedError):
    """Something Azure ML pipelines do that tailrun does not (the message says what instead)."""


def unsupported_argument(owner: str, argument: str, why: str) -> NoReturn:
    raise PipelineFeatureUnsupported(f"{owner}: {argument} is not supported by tailrun ({why})")


def unsupported_class(name: str, why: str, module: str) -> type:
    """A class that imports like Azure ML's and raises one clear error when used."""

    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise PipelineFeatureUnsupported(f"{name} is not supported by tailrun: {why}")

    namespace = {"__init__": lambda self, *a, **k: refuse(), "__doc__": f"Not supported by tailrun: {why}",
                 "__module__": module}
    for method in ("get", "list", "create", "get_all", "load_yaml", "publish"):
        namespace[method] = staticmethod(refuse)
    return type(name, (), namespace)

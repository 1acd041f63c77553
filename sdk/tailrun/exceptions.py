"""Exceptions of the tailrun SDK, under Azure ML's names (`azureml.exceptions`).

`AzureMLException` is the base of every exception tailrun raises on purpose (`TailrunError` is
the same class under its older name). Logging calls never raise these: a transport problem while
logging is handled in the background (retry, spool to disk). Reads (`get_metrics`, `get_details`,
`Run.get`, downloads, the CLI) need a reachable service and say so with a `ServiceError`;
submission and waiting raise Azure ML's `UserErrorException`, `TrainingException` and
`ActivityFailedException`, which are defined with ScriptRunConfig in `tailrun.script_run` and
re-exported here on first use (the same classes, not copies).

Defined for `except` clauses in Azure ML code, raised by nothing in tailrun yet:
`ExperimentExecutionException`, `WorkspaceException`, `ProjectSystemException`.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["AzureMLException", "TailrunError", "UserErrorException", "ActivityFailedException",
           "TrainingException", "ExperimentExecutionException", "RunEnvironmentException",
           "WebserviceException", "ComputeTargetException", "WorkspaceException", "ProjectSystemException",
           "SnapshotException", "ServiceError", "ServiceUnavailable", "AuthenticationError",
           "AuthenticationException", "NotFound", "RunNotFound", "FileNotFoundInRun",
           "InvalidRequest", "NotSupported", "ModelNotFoundException", "ModelPathNotFoundException"]


class AzureMLException(Exception):
    """Base class of the exceptions tailrun raises (Azure ML's `azureml.exceptions.AzureMLException`)."""

    @property
    def message(self) -> str:
        """The exception's message, as Azure ML exceptions have it."""
        return str(self.args[0]) if self.args else ""


TailrunError = AzureMLException
"""The older name of `AzureMLException`."""


class ServiceError(AzureMLException):
    """The service could not be reached, refused the call, or failed while answering it."""


class ServiceUnavailable(ServiceError):
    """No tailrun service answers at the configured address."""


class AuthenticationException(AzureMLException):
    """Azure ML's authentication error: the Azure credential classes raise it for Azure tokens
    (tailrun has none), and `AuthenticationError` (the service refused the token) is one."""


class AuthenticationError(ServiceError, AuthenticationException):
    """The service refused the token (or a token is needed and none is configured)."""


class NotFound(ServiceError):
    """The run, experiment or file asked for does not exist on the service."""


class RunNotFound(NotFound):
    """No run with that id exists."""


class FileNotFoundInRun(NotFound):
    """The run has no file with that name."""


class RunEnvironmentException(AzureMLException):
    """`Run.get_context(allow_offline=False)` outside a submitted run (no TAILRUN_RUN_ID set)."""


class InvalidRequest(ServiceError, ValueError):
    """The service refused the arguments of a call (e.g. an invalid file path)."""


class NotSupported(ServiceError):
    """The service does not offer this call (an older tailrun service)."""


class ComputeTargetException(AzureMLException):
    """A compute target that does not exist (the message names the ones that do)."""


class SnapshotException(AzureMLException):
    """A snapshot that cannot be taken (the run has one, a path is missing, over a limit) or
    restored (the run has none)."""


class ExperimentExecutionException(AzureMLException):
    """Azure ML's error for an experiment that could not be executed (not raised by tailrun yet)."""


class WorkspaceException(AzureMLException):
    """Azure ML's error for a workspace that cannot be reached or created (not raised by tailrun:
    `Workspace(...)` maps any arguments to the configured service)."""


class ProjectSystemException(AzureMLException):
    """Azure ML's error of its project folders (not raised by tailrun)."""


class WebserviceException(AzureMLException):
    """Azure ML's error of the model registry and web services (tailrun deploys no web services):
    `Model` raises it for a bad model name or arguments, and an existing file on download;
    `Model.deploy`, web services and images raise it with what to do instead."""


class ModelNotFoundException(WebserviceException, NotFound):
    """No registered model with that name (or version); the message starts with "ModelNotFound"
    and names what exists."""


class ModelPathNotFoundException(NotFound):
    """`Run.register_model`: the run has no file or folder at `model_path` (the message lists its files)."""


# Defined with ScriptRunConfig (tailrun.script_run), loaded on first use: importing this module
# stays cheap and the names are the very classes submit and wait_for_completion raise.
_FROM_SCRIPT_RUN = ("UserErrorException", "ActivityFailedException", "TrainingException")

if TYPE_CHECKING:  # pragma: no cover
    from .script_run import ActivityFailedException, TrainingException, UserErrorException


def __getattr__(name: str) -> Any:
    if name in _FROM_SCRIPT_RUN:
        value = getattr(importlib.import_module("tailrun.script_run"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""Exceptions raised by the tailrun SDK's read and lookup calls.

Logging calls never raise these: a transport problem while logging is handled in the background
(retry, spool to disk). Only reads (`get_metrics`, `get_details`, `Run.get`, downloads, the CLI)
need a reachable service, and say so with these.
"""
from __future__ import annotations


class TailrunError(Exception):
    """Base class of tailrun's own exceptions."""


class ServiceError(TailrunError):
    """The service could not be reached, refused the call, or failed while answering it."""


class ServiceUnavailable(ServiceError):
    """No tailrun service answers at the configured address."""


class AuthenticationError(ServiceError):
    """The service refused the token (or a token is needed and none is configured)."""


class NotFound(ServiceError):
    """The run, experiment or file asked for does not exist on the service."""


class RunNotFound(NotFound):
    """No run with that id exists."""


class FileNotFoundInRun(NotFound):
    """The run has no file with that name."""


class RunEnvironmentException(TailrunError):
    """`Run.get_context(allow_offline=False)` outside a submitted run (no TAILRUN_RUN_ID set)."""


class InvalidRequest(ServiceError, ValueError):
    """The service refused the arguments of a call (e.g. an invalid file path)."""

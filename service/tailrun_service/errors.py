"""The errors the service reports to clients, each mapped to one gRPC status code by the servicer.

NotFound -> NOT_FOUND, InvalidArgument -> INVALID_ARGUMENT, PermissionDenied -> PERMISSION_DENIED,
Unavailable -> UNAVAILABLE, ShuttingDown -> UNAVAILABLE, SeqGap -> FAILED_PRECONDITION.
The message is shown to the user as is, so it names the problem (and the offending value).
"""
from __future__ import annotations


class TailrunError(Exception):
    """Base class of the errors the service reports to clients."""


class NotFound(TailrunError):
    """A run, experiment, metric or file does not exist."""


class InvalidArgument(TailrunError):
    """A request or an ingested event is malformed or over a limit."""


class PermissionDenied(TailrunError):
    """The caller's token may not do this (for example write another run)."""


class Unavailable(Exception):
    """The store or the artifact folder cannot be used now (vanished, unwritable): answer UNAVAILABLE."""


class ShuttingDown(Exception):
    """The server is stopping: clients should reconnect (to this service once restarted)."""


class SeqGap(TailrunError):
    """A batch's seq skips over batches the writer never sent (seq > committed + 1): nothing is
    stored, and the writer must resume from its committed seq (FAILED_PRECONDITION)."""

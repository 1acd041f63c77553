"""Submitted runs: executed as child processes on the service's machine (issue 4)."""
from .runner import Runner

__all__ = ["Runner"]

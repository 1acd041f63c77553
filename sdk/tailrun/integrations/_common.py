"""What the framework integrations share: importing the optional library, choosing the run,
hyperparameters as run properties and framework numbers as metric values."""
from __future__ import annotations

import dataclasses
import importlib
import warnings
from argparse import Namespace
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..run import Run


def require(module: str, extra: str, hint: str = "") -> ModuleType:
    """Import `module` or raise an ImportError that names the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        missing = (exc.name or "").split(".")[0]
        if missing == top:
            reason = f"the {top!r} package is not installed"
        else:  # the library is there but one of its own imports failed
            reason = f"{top!r} is installed but importing it failed: {exc}"
        raise ImportError(f"tailrun.integrations.{extra} needs {top}: {reason}. Install it with: "
                          f"pip install 'tailrun[{extra}]'{hint}") from exc


def resolve_run(run: "Run | None", experiment_name: str | None = None,
                workspace: Any = None) -> tuple["Run", bool]:
    """The run an integration logs to, and whether the integration owns (finishes) it.

    - `run` given: that run; the user finishes it.
    - else `experiment_name` (or `workspace`) given: a new run started in that experiment (default:
      the script's file stem) of that workspace (default `Workspace.from_config()`); the
      integration completes it, or fails it, when training ends.
    - else `Run.get_context()`: the submitted run this script runs in (the service finishes it),
      or the script's recording run (completed at exit, Failed by an uncaught exception), shared
      with the script's own `Run.get_context()` calls.
    """
    from ..run import Run
    if run is not None:
        if not isinstance(run, Run):
            raise TypeError(f"run must be a tailrun Run (from start_logging, Run.get_context(), ...), "
                            f"not {type(run).__name__}")
        return run, False
    if experiment_name is None and workspace is None:
        return Run.get_context(), False
    from ..experiment import Experiment
    from ..run_context import script_experiment_name
    from ..workspace import Workspace
    ws = workspace if workspace is not None else Workspace.from_config()
    experiment = Experiment(ws, experiment_name or script_experiment_name())
    # No snapshot of the working folder: a logger must never fail a training over its size.
    return experiment.start_logging(snapshot_directory=None), True


class LazyRun:
    """An integration's choice of run (see `resolve_run`): a run passed in is checked at once, one
    to start, or the script's context run, is resolved on first use."""

    def __init__(self, run: "Run | None", experiment_name: str | None, workspace: Any) -> None:
        if run is not None and (experiment_name is not None or workspace is not None):
            raise ValueError("pass either run or experiment_name/workspace, not both")
        self.experiment_name = experiment_name
        self.workspace = workspace
        self.resolved, self.owned = (None, False) if run is None else resolve_run(run)

    def get(self) -> "Run":
        """The run, resolved now if it was not yet."""
        if self.resolved is None:
            self.resolved, self.owned = resolve_run(None, self.experiment_name, self.workspace)
        return self.resolved


def flatten(params: Any, sep: str = "/", prefix: str = "") -> dict[str, Any]:
    """Nested dicts, Namespaces and dataclasses as one level of `a/b/c` keys."""
    if isinstance(params, Namespace):
        params = vars(params)
    elif dataclasses.is_dataclass(params) and not isinstance(params, type):
        params = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    if not isinstance(params, Mapping):
        raise TypeError(f"hyperparameters must be a dict, Namespace or dataclass, not {type(params).__name__}")
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, (Mapping, Namespace)) or (dataclasses.is_dataclass(value)
                                                       and not isinstance(value, type)):
            nested = flatten(value, sep, name)
            if nested:
                flat.update(nested)
                continue
        flat[name] = value
    return flat


def add_params(run: "Run", params: Any, prefix: str = "") -> dict[str, str]:
    """Add hyperparameters as run properties (flattened, `str()` values) and return them.

    Properties are add-only, so training never stops over them: a key already set to another
    value (a second `fit`), a key or value over the size limits, are left out with one warning."""
    from ..run_tags import MAX_PROPERTY_KEY, MAX_PROPERTY_VALUE
    current = run.properties
    clean: dict[str, str] = {}
    skipped: list[str] = []
    for key, value in flatten(params, prefix=prefix).items():
        text = str(value)
        if len(key) > MAX_PROPERTY_KEY or len(text) > MAX_PROPERTY_VALUE:
            skipped.append(f"{key[:60]!r} (over {MAX_PROPERTY_KEY} characters)" if len(key) > MAX_PROPERTY_KEY
                           else f"{key!r} (a {len(text)}-character value; the limit is {MAX_PROPERTY_VALUE})")
        elif key in current and current[key] != text:
            skipped.append(f"{key!r} (already {current[key]!r}; properties cannot change)")
        else:
            clean[key] = text
    if skipped:
        warnings.warn(f"tailrun: run {run.id}: hyperparameters not stored as properties: "
                      + ", ".join(skipped), stacklevel=3)
    run.add_properties(clean)
    return clean


def scalar(value: Any) -> Any:
    """A framework's metric value as a Python number (tensors, numpy scalars and one-element
    arrays through `.item()`), or None when it is not a single number."""
    if type(value) in (float, int, bool):
        return value
    if isinstance(value, float):      # numpy.float64 and other float subclasses
        return float(value)
    item = getattr(value, "item", None)
    if callable(item):
        try:
            got = item()
        except (TypeError, ValueError, RuntimeError):   # more than one element
            return None
        return got if type(got) in (float, int, bool) else None
    return None

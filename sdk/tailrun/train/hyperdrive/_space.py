"""Checks of a search space and of its sampling, shared by the SDK (at construction) and the
service (at submit: a definition may come from any client). Raises ValueError naming the problem."""
from __future__ import annotations

import math
from typing import Any

from .parameter_expressions import ARITY, EXPRESSIONS

SAMPLERS = {   # the sampling name -> the expressions it can sample (azureml's rules)
    "random": EXPRESSIONS,
    "grid": ("choice",),
    "bayesian": ("choice", "uniform", "quniform"),
}
MAX_GRID_RUNS = 1_000_000   # a grid is enumerated lazily; this bounds its size check


def check_space(space: Any, sampling: str) -> dict[str, list]:
    """The search space as `{name: [expression, [arguments]]}`, checked for `sampling`."""
    if sampling not in SAMPLERS:
        raise ValueError(f"unknown sampling {sampling!r}; known: {', '.join(SAMPLERS)}")
    if not isinstance(space, dict):
        raise ValueError(f"the parameter space must be a dict of name -> parameter expression, "
                         f"not {type(space).__name__}")
    if not space:
        raise ValueError("the parameter space is empty: there is nothing to sample")
    allowed = SAMPLERS[sampling]
    checked = {}
    for name, expression in space.items():
        if not isinstance(name, str) or not name.strip("-"):
            raise ValueError(f"parameter name {name!r} must be a non-empty string")
        if (not isinstance(expression, (list, tuple)) or len(expression) != 2
                or not isinstance(expression[1], (list, tuple)) or expression[0] not in EXPRESSIONS):
            raise ValueError(f"parameter {name!r}: {expression!r} is not a parameter expression "
                             f"(use one of {', '.join(EXPRESSIONS)} from parameter_expressions)")
        kind, args = expression[0], list(expression[1])
        if kind not in allowed:
            raise ValueError(f"parameter {name!r}: {sampling} sampling supports only "
                             f"{', '.join(allowed)}, not {kind}")
        if kind == "choice":
            if len(args) != 1 or not isinstance(args[0], (list, tuple)) or not args[0]:
                raise ValueError(f"parameter {name!r}: choice has no options: there is nothing to sample")
        elif len(args) != ARITY[kind] or any(isinstance(a, bool) or not isinstance(a, (int, float))
                                             or not math.isfinite(a) for a in args):
            raise ValueError(f"parameter {name!r}: {kind} takes {ARITY[kind]} finite numbers, got {args!r}")
        checked[name] = [kind, [list(args[0])] if kind == "choice" else args]
    return checked


def grid_size(space: dict[str, list]) -> int:
    size = 1
    for _kind, args in space.values():
        size *= len(args[0])
    return size


def argument_name(name: str) -> str:
    """The script argument of a parameter: names are passed as given when they start with '-',
    else as `--name` (both spellings appear in azureml examples)."""
    return name if name.startswith("-") else f"--{name}"

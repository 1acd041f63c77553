"""Azure ML's `azureml.train.hyperdrive.parameter_expressions`: the distributions of a search space.

Each function returns azureml's serialised form, `[name, [arguments]]` (a list, so a search space
is plain JSON), which the service samples from:

    choice(*options)                 one of the options (a single list/range argument is the options)
    randint(upper)                   an integer in [0, upper)
    uniform(min, max)                uniform in [min, max]
    quniform(min, max, q)            round(uniform(min, max) / q) * q
    loguniform(min, max)             exp(uniform(min, max))
    qloguniform(min, max, q)         round(exp(uniform(min, max)) / q) * q
    normal(mu, sigma)                normal with mean mu and standard deviation sigma
    qnormal(mu, sigma, q)            round(normal(mu, sigma) / q) * q
    lognormal(mu, sigma)             exp(normal(mu, sigma))
    qlognormal(mu, sigma, q)         round(exp(normal(mu, sigma)) / q) * q
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Any

__all__ = ["choice", "randint", "uniform", "quniform", "loguniform", "qloguniform", "normal", "qnormal",
           "lognormal", "qlognormal"]

# name -> the number of numeric arguments (choice takes a list of options instead)
ARITY = {"randint": 1, "uniform": 2, "quniform": 3, "loguniform": 2, "qloguniform": 3, "normal": 2,
         "qnormal": 3, "lognormal": 2, "qlognormal": 3}
EXPRESSIONS = ("choice", *ARITY)


def choice(*options: Any) -> list:
    """One of the options: `choice(1, 2, 3)`, `choice([1, 2, 3])` or `choice(range(4))`."""
    if len(options) == 1 and isinstance(options[0], (list, tuple, range)):
        options = tuple(options[0])
    if not options:
        raise ValueError("choice() needs at least one option")
    for option in options:
        if not isinstance(option, (str, int, float, bool)) or (isinstance(option, float) and not math.isfinite(option)):
            raise ValueError(f"choice(): each option must be a string, a number or a bool, not {option!r}")
    return ["choice", [list(options)]]


def randint(upper: int) -> list:
    """An integer in [0, upper)."""
    if isinstance(upper, bool) or not isinstance(upper, int) or upper < 1:
        raise ValueError(f"randint(upper): upper must be a positive integer, got {upper!r}")
    return ["randint", [upper]]


def _numbers(name: str, *values: Any) -> list:
    for value in values:
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise ValueError(f"{name}(): arguments must be finite numbers, got {value!r}")
    return [name, list(values)]


def _range(name: str, low: Any, high: Any, *rest: Any) -> list:
    expression = _numbers(name, low, high, *rest)
    if low >= high:
        raise ValueError(f"{name}(min_value, max_value): min_value {low!r} must be below max_value {high!r}")
    if rest and rest[0] <= 0:
        raise ValueError(f"{name}(): q must be positive, got {rest[0]!r}")
    return expression


def _spread(name: str, mu: Any, sigma: Any, *rest: Any) -> list:
    expression = _numbers(name, mu, sigma, *rest)
    if sigma <= 0:
        raise ValueError(f"{name}(mu, sigma): sigma must be positive, got {sigma!r}")
    if rest and rest[0] <= 0:
        raise ValueError(f"{name}(): q must be positive, got {rest[0]!r}")
    return expression


def uniform(min_value: float, max_value: float) -> list:
    return _range("uniform", min_value, max_value)


def quniform(min_value: float, max_value: float, q: float) -> list:
    return _range("quniform", min_value, max_value, q)


def loguniform(min_value: float, max_value: float) -> list:
    return _range("loguniform", min_value, max_value)


def qloguniform(min_value: float, max_value: float, q: float) -> list:
    return _range("qloguniform", min_value, max_value, q)


def normal(mu: float, sigma: float) -> list:
    return _spread("normal", mu, sigma)


def qnormal(mu: float, sigma: float, q: float) -> list:
    return _spread("qnormal", mu, sigma, q)


def lognormal(mu: float, sigma: float) -> list:
    return _spread("lognormal", mu, sigma)


def qlognormal(mu: float, sigma: float, q: float) -> list:
    return _spread("qlognormal", mu, sigma, q)

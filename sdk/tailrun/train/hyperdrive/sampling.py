"""Azure ML's `azureml.train.hyperdrive.sampling`: how the service picks each child's parameters.

- RandomParameterSampling: every expression; values drawn independently. When every parameter is
  a `choice`, the combinations are drawn without repetition and the sweep ends when they are used up.
- GridParameterSampling: `choice` only; every combination, in order (the first parameter varies
  slowest), up to max_total_runs.
- BayesianParameterSampling: `choice`, `uniform`, `quniform`; Tree-structured Parzen Estimator
  (Optuna's TPESampler, in the service) over the finished children's primary metric. As in azureml,
  it takes no early termination policy.

`properties={"seed": N}` (tailrun) fixes the sampler's random seed, so a sweep is repeatable.
"""
from __future__ import annotations

from typing import Any

from ._space import check_space

__all__ = ["HyperParameterSampling", "RandomParameterSampling", "GridParameterSampling",
           "BayesianParameterSampling"]


class HyperParameterSampling:
    """The base of the samplings: a checked parameter space and the sampler's properties."""

    SAMPLING_NAME = ""

    def __init__(self, parameter_space: dict[str, Any], properties: dict[str, Any] | None = None) -> None:
        self._parameter_space = check_space(parameter_space, self.SAMPLING_NAME)
        self._properties = dict(properties or {})
        seed = self._properties.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"properties['seed'] must be an integer, got {seed!r}")

    @property
    def sampling_method_name(self) -> str:
        return self.SAMPLING_NAME

    @property
    def parameter_space(self) -> dict[str, list]:
        return {k: [v[0], list(v[1])] for k, v in self._parameter_space.items()}

    def to_json(self) -> dict[str, Any]:
        return {"name": self.SAMPLING_NAME, "parameter_space": self.parameter_space,
                "properties": dict(self._properties)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._parameter_space!r})"


class RandomParameterSampling(HyperParameterSampling):
    SAMPLING_NAME = "random"


class GridParameterSampling(HyperParameterSampling):
    SAMPLING_NAME = "grid"


class BayesianParameterSampling(HyperParameterSampling):
    SAMPLING_NAME = "bayesian"

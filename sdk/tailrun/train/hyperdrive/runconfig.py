"""Azure ML's `azureml.train.hyperdrive.runconfig`: HyperDriveConfig and PrimaryMetricGoal.

    config = HyperDriveConfig(run_config=ScriptRunConfig("src", "train.py"),
                              hyperparameter_sampling=RandomParameterSampling({"--lr": loguniform(-6, -1)}),
                              policy=BanditPolicy(slack_factor=0.1), primary_metric_name="accuracy",
                              primary_metric_goal=PrimaryMetricGoal.MAXIMIZE, max_total_runs=20,
                              max_concurrent_runs=4)
    run = Experiment(ws, "sweep").submit(config)        # a HyperDriveRun

The service runs the sweep: each child is the script with the sampled values appended to its
arguments (`--lr 0.0123`; a name without a leading '-' is passed as `--name`), on the script's
compute target. Children beyond the target's own concurrency limit wait there as Queued.
"""
from __future__ import annotations

import uuid
from enum import Enum
from typing import TYPE_CHECKING, Any

from .policy import EarlyTerminationPolicy, NoTerminationPolicy
from .sampling import BayesianParameterSampling, HyperParameterSampling

if TYPE_CHECKING:  # pragma: no cover
    from ...experiment import Experiment
    from .run import HyperDriveRun

__all__ = ["HyperDriveConfig", "HyperDriveRunConfig", "PrimaryMetricGoal"]

MAX_TOTAL_RUNS = 1000          # azureml's service limits
MAX_CONCURRENT_RUNS = 100
MAX_DURATION_MINUTES = 10080


class PrimaryMetricGoal(Enum):
    """Whether the primary metric is maximised or minimised."""
    MAXIMIZE = "MAXIMIZE"
    MINIMIZE = "MINIMIZE"


def _count(name: str, value: Any, upper: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= upper:
        raise ValueError(f"HyperDriveConfig: {name} must be an integer from 1 to {upper}, got {value!r}")
    return value


class HyperDriveConfig:
    """A hyperparameter sweep over one script (given as `run_config`, a ScriptRunConfig, or as
    `estimator`)."""

    def __init__(self, hyperparameter_sampling: HyperParameterSampling, primary_metric_name: str,
                 primary_metric_goal: PrimaryMetricGoal | str, max_total_runs: int,
                 max_concurrent_runs: int | None = None, max_duration_minutes: int = MAX_DURATION_MINUTES,
                 policy: EarlyTerminationPolicy | None = None, estimator: Any = None, run_config: Any = None,
                 resume_from: Any = None, resume_child_runs: Any = None, pipeline: Any = None,
                 debug_flag: Any = None, custom_run_id: str | None = None) -> None:
        if not isinstance(hyperparameter_sampling, HyperParameterSampling):
            raise TypeError("HyperDriveConfig: hyperparameter_sampling must be a RandomParameterSampling, "
                            f"GridParameterSampling or BayesianParameterSampling, not "
                            f"{type(hyperparameter_sampling).__name__}")
        if not isinstance(primary_metric_name, str) or not primary_metric_name:
            raise ValueError("HyperDriveConfig: primary_metric_name must be a non-empty string")
        if isinstance(primary_metric_goal, str):
            try:
                primary_metric_goal = PrimaryMetricGoal(primary_metric_goal.upper())
            except ValueError:
                raise ValueError(f"HyperDriveConfig: primary_metric_goal must be PrimaryMetricGoal.MAXIMIZE "
                                 f"or .MINIMIZE, got {primary_metric_goal!r}") from None
        if not isinstance(primary_metric_goal, PrimaryMetricGoal):
            raise TypeError(f"HyperDriveConfig: primary_metric_goal must be a PrimaryMetricGoal, "
                            f"not {type(primary_metric_goal).__name__}")
        if (estimator is None) == (run_config is None):
            raise ValueError("HyperDriveConfig: give exactly one of run_config (a ScriptRunConfig) and estimator")
        if policy is None:
            policy = NoTerminationPolicy()
        if not isinstance(policy, EarlyTerminationPolicy):
            raise TypeError(f"HyperDriveConfig: policy must be an early termination policy, "
                            f"not {type(policy).__name__}")
        if isinstance(hyperparameter_sampling, BayesianParameterSampling) and not isinstance(policy, NoTerminationPolicy):
            raise ValueError("HyperDriveConfig: Bayesian sampling does not support early termination "
                             "policies; use policy=None or NoTerminationPolicy()")
        unsupported = [name for name, value in (("resume_from", resume_from), ("resume_child_runs", resume_child_runs),
                                                ("pipeline", pipeline)) if value is not None]
        if unsupported:
            raise ValueError(f"HyperDriveConfig: {', '.join(unsupported)} is not supported by tailrun")
        self._max_total_runs = _count("max_total_runs", max_total_runs, MAX_TOTAL_RUNS)
        self._max_concurrent_runs = (_count("max_concurrent_runs", max_concurrent_runs, MAX_CONCURRENT_RUNS)
                                     if max_concurrent_runs is not None else None)
        self._max_duration_minutes = _count("max_duration_minutes", max_duration_minutes, MAX_DURATION_MINUTES)
        self._sampling = hyperparameter_sampling
        self._policy = policy
        self._primary_metric_config = {"name": primary_metric_name, "goal": primary_metric_goal.value.lower()}
        self.estimator = estimator
        self.run_config = run_config
        self._custom_run_id = custom_run_id
        self._debug_flag = debug_flag

    @property
    def source_directory(self) -> str:
        return self._script_config().source_directory

    def _script_config(self) -> Any:
        return self.run_config if self.run_config is not None else self.estimator._script_run_config(None)

    def _definition(self) -> dict[str, Any]:
        """The child script's run definition with the sweep under the key "hyperdrive"."""
        definition = self._script_config()._definition()
        definition["hyperdrive"] = {
            "sampling": self._sampling.to_json(),
            "policy": self._policy.to_json(),
            "primary_metric_name": self._primary_metric_config["name"],
            "primary_metric_goal": self._primary_metric_config["goal"],
            "max_total_runs": self._max_total_runs,
            "max_concurrent_runs": self._max_concurrent_runs or self._max_total_runs,
            "max_duration_minutes": self._max_duration_minutes,
        }
        return definition

    def _tailrun_submit(self, experiment: "Experiment", tags: dict[str, Any] | None = None,
                        **kwargs: Any) -> "HyperDriveRun":
        """`Experiment.submit(hyperdrive_config)`: the parent run `HD_<uuid>` (children `HD_<uuid>_<n>`)."""
        if kwargs:
            raise TypeError(f"Experiment.submit(HyperDriveConfig) got unexpected keyword arguments "
                            f"{', '.join(sorted(kwargs))}")
        from ...script_run import submit_definition
        from .run import HyperDriveRun
        run_id = self._custom_run_id or f"HD_{uuid.uuid4()}"
        info = submit_definition(experiment, run_id, self._definition(), self.source_directory, tags)
        return HyperDriveRun._attach(experiment, run_id, info)


HyperDriveRunConfig = HyperDriveConfig   # azureml's deprecated name

"""Azure ML's `azureml.train.hyperdrive`: hyperparameter sweeps the service runs.

    from tailrun.train.hyperdrive import *
    sampling = RandomParameterSampling({"--lr": loguniform(-6, -1), "--batch": choice(16, 32, 64)})
    config = HyperDriveConfig(run_config=src, hyperparameter_sampling=sampling,
                              policy=BanditPolicy(slack_factor=0.1, evaluation_interval=1),
                              primary_metric_name="accuracy", primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
                              max_total_runs=20, max_concurrent_runs=4)
    run = experiment.submit(config)
    run.wait_for_completion(show_output=True)
    best = run.get_best_run_by_primary_metric()

Submodules as in azureml: parameter_expressions, sampling, policy, runconfig, run.
"""
from __future__ import annotations

from .parameter_expressions import (
    choice, lognormal, loguniform, normal, qlognormal, qloguniform, qnormal, quniform, randint, uniform,
)
from .policy import (
    BanditPolicy, EarlyTerminationPolicy, MedianStoppingPolicy, NoTerminationPolicy, TruncationSelectionPolicy,
)
from .run import HyperDriveRun
from .runconfig import HyperDriveConfig, HyperDriveRunConfig, PrimaryMetricGoal
from .sampling import (
    BayesianParameterSampling, GridParameterSampling, HyperParameterSampling, RandomParameterSampling,
)

__all__ = [
    "choice", "randint", "uniform", "quniform", "loguniform", "qloguniform", "normal", "qnormal", "lognormal",
    "qlognormal", "HyperParameterSampling", "RandomParameterSampling", "GridParameterSampling",
    "BayesianParameterSampling", "EarlyTerminationPolicy", "BanditPolicy", "MedianStoppingPolicy",
    "TruncationSelectionPolicy", "NoTerminationPolicy", "HyperDriveConfig", "HyperDriveRunConfig",
    "PrimaryMetricGoal", "HyperDriveRun",
]

"""Bad input to a sweep: refused before anything runs with a message naming the problem, or, when
only the run can tell (a primary metric never logged, children that all fail), said at the end."""
from __future__ import annotations

import json

import pytest

from tailrun import Experiment, ScriptRunConfig
from tailrun.script_run import ActivityFailedException, UserErrorException
from tailrun.train.hyperdrive import (
    BanditPolicy, BayesianParameterSampling, GridParameterSampling, HyperDriveConfig, PrimaryMetricGoal,
    RandomParameterSampling, TruncationSelectionPolicy, choice, normal, uniform,
)

from sweepkit import children_of

LOGS_ACC = "from tailrun import Run\nRun.get_context().log('acc', 0.5)\n"
FAILS = "raise SystemExit('bad data')\n"


def _config(folder, sampling=None, **kwargs):
    kwargs.setdefault("primary_metric_name", "accuracy")
    kwargs.setdefault("primary_metric_goal", PrimaryMetricGoal.MAXIMIZE)
    kwargs.setdefault("max_total_runs", 2)
    return HyperDriveConfig(run_config=ScriptRunConfig(str(folder), "train.py"),
                            hyperparameter_sampling=sampling or RandomParameterSampling({"--lr": uniform(0, 1)}),
                            **kwargs)


@pytest.mark.parametrize("make,message", [
    (lambda: RandomParameterSampling({}), "the parameter space is empty: there is nothing to sample"),
    (lambda: choice(), "choice() needs at least one option"),
    (lambda: choice([]), "choice() needs at least one option"),
    (lambda: RandomParameterSampling({"--lr": ["choice", [[]]]}), "choice has no options: there is nothing to sample"),
    (lambda: uniform(1, 0), "min_value 1 must be below max_value 0"),
    (lambda: normal(0, -1), "sigma must be positive"),
    (lambda: GridParameterSampling({"--lr": uniform(0, 1)}), "grid sampling supports only choice, not uniform"),
    (lambda: BayesianParameterSampling({"--lr": normal(0, 1)}),
     "bayesian sampling supports only choice, uniform, quniform, not normal"),
    (lambda: RandomParameterSampling({"--lr": ["gauss", [0, 1]]}), "is not a parameter expression"),
    (lambda: RandomParameterSampling({"--lr": uniform(0, 1)}, properties={"seed": "x"}), "seed"),
    (lambda: BanditPolicy(), "give exactly one of slack_factor and slack_amount"),
    (lambda: TruncationSelectionPolicy(truncation_percentage=0), "truncation_percentage must be an integer from 1"),
])
def test_a_search_space_or_policy_that_cannot_work_is_refused_in_the_sdk(make, message):
    with pytest.raises(ValueError) as caught:
        make()
    assert message in str(caught.value)


def test_a_config_that_cannot_work_is_refused_in_the_sdk(tmp_path):
    (tmp_path / "train.py").write_text(LOGS_ACC)
    bayesian = BayesianParameterSampling({"--lr": uniform(0, 1)})
    cases = [
        (dict(sampling=bayesian, policy=BanditPolicy(slack_factor=0.1)), "Bayesian sampling does not support"),
        (dict(max_total_runs=0), "max_total_runs must be an integer from 1 to 1000"),
        (dict(max_concurrent_runs=101), "max_concurrent_runs must be an integer from 1 to 100"),
        (dict(primary_metric_goal="up"), "primary_metric_goal must be PrimaryMetricGoal.MAXIMIZE"),
        (dict(primary_metric_name=""), "primary_metric_name must be a non-empty string"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError) as caught:
            _config(tmp_path, **kwargs)
        assert message in str(caught.value), kwargs
    with pytest.raises(ValueError, match="exactly one of run_config"):
        HyperDriveConfig(hyperparameter_sampling=bayesian, primary_metric_name="a", primary_metric_goal="maximize",
                         max_total_runs=1)


def test_a_missing_script_is_refused_before_anything_runs(service, ws, tmp_path):
    (tmp_path / "other.py").write_text("")
    with pytest.raises(UserErrorException, match="script 'train.py' was not found"):
        Experiment(ws, "bad-sweeps").submit(_config(tmp_path))
    assert service.store.list_runs(_list("bad-sweeps")) == []


def test_a_sweep_on_an_unknown_compute_target_is_refused_before_anything_runs(service, ws, tmp_path):
    from tailrun.exceptions import ComputeTargetException
    (tmp_path / "train.py").write_text(LOGS_ACC)
    config = HyperDriveConfig(run_config=ScriptRunConfig(str(tmp_path), "train.py", compute_target="gpu-cluster"),
                              hyperparameter_sampling=RandomParameterSampling({"--lr": uniform(0, 1)}),
                              primary_metric_name="accuracy", primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
                              max_total_runs=2)
    with pytest.raises(ComputeTargetException, match="'gpu-cluster'.*'local'"):
        Experiment(ws, "bad-sweeps").submit(config)
    assert service.store.list_runs(_list("bad-sweeps")) == []


@pytest.mark.parametrize("change,message", [
    (lambda hd: hd["sampling"].update(parameter_space={}), "there is nothing to sample"),
    (lambda hd: hd["sampling"].update(name="sobol"), "unknown sampling 'sobol'; known: random, grid, bayesian"),
    (lambda hd: hd.update(policy={"name": "Patience"}), "unknown early termination policy"),
    (lambda hd: hd.update(max_concurrent_runs=0), "max_concurrent_runs must be a positive integer"),
    (lambda hd: hd.update(primary_metric_goal="up"), "primary_metric_goal must be 'maximize' or 'minimize'"),
])
def test_the_service_refuses_a_bad_sweep_definition_and_creates_nothing(service, ws, tmp_path, change, message):
    """A definition from any client is checked again by the service (INVALID_ARGUMENT)."""
    from tailrun._snapshot import build_snapshot
    from tailrun.exceptions import TailrunError
    from tailrun.script_run import _send
    from tailrun.v1 import tailrun_pb2 as pb

    (tmp_path / "train.py").write_text(LOGS_ACC)
    definition = _config(tmp_path)._definition()
    change(definition["hyperdrive"])
    spec = pb.SubmitSpec(experiment="bad-sweeps", run_id="HD_bad", run_definition_json=json.dumps(definition))
    with build_snapshot(tmp_path) as snapshot, pytest.raises(TailrunError) as caught:
        _send(ws._client(), spec, snapshot)
    assert message in str(caught.value)
    assert not service.store.run_exists("HD_bad")


def test_a_primary_metric_no_child_logs_is_reported_at_the_end(service, ws, tmp_path):
    (tmp_path / "train.py").write_text(LOGS_ACC)
    run = Experiment(ws, "bad-sweeps").submit(_config(tmp_path, max_total_runs=3, max_concurrent_runs=3))
    details = run.wait_for_completion()   # ends: no child will ever log it
    assert details["status"] == "Completed"
    warning = "no child run logged the primary metric 'accuracy'; the children logged 'acc'"
    assert warning in details["warnings"]
    assert warning in service.store.read_output(_req(run.id)).text
    assert run.get_best_run_by_primary_metric() is None
    rows = run.get_children_sorted_by_primary_metric()
    assert len(rows) == 3 and {r["best_primary_metric"] for r in rows} == {None}
    assert run.get_children_sorted_by_primary_metric(discard_no_metric=True) == []


def test_max_concurrent_runs_above_the_targets_limit_queues_the_rest(service_factory, workspace_of, tmp_path):
    service = service_factory(max_concurrent_runs=1)
    (tmp_path / "train.py").write_text("from tailrun import Run\nRun.get_context().log('accuracy', 1)\n")
    run = Experiment(workspace_of(service), "bad-sweeps").submit(
        _config(tmp_path, max_total_runs=3, max_concurrent_runs=3))
    details = run.wait_for_completion()
    assert details["status"] == "Completed"
    assert ("max_concurrent_runs 3 is above the local target's limit of 1 runs at once: the other children "
            "wait as Queued") in details["warnings"]
    kids = children_of(service.store, run.id)
    assert len(kids) == 3 and {k.status for k in kids} == {"Completed"}
    for k in kids:   # one at a time: the target's limit holds
        assert not [o for o in kids if o is not k and o.start_time < k.end_time and k.start_time < o.end_time]


def test_a_sweep_whose_children_all_fail_fails(service, ws, tmp_path):
    (tmp_path / "train.py").write_text(FAILS)
    run = Experiment(ws, "bad-sweeps").submit(_config(tmp_path, max_total_runs=2))
    with pytest.raises(ActivityFailedException) as caught:
        run.wait_for_completion()
    error = caught.value.error["error"]
    assert error["code"] == "AllChildRunsFailed"
    assert "none of the sweep's 2 child runs completed (2 Failed); the first failure, " in error["message"]
    assert "bad data" in error["message"]   # the child's own error
    assert {k.status for k in children_of(service.store, run.id)} == {"Failed"}


def _list(experiment):
    from tailrun.v1 import tailrun_pb2 as pb
    return pb.ListRunsRequest(experiment=experiment)


def _req(run_id):
    from tailrun.v1 import tailrun_pb2 as pb
    return pb.ReadOutputRequest(run_id=run_id)

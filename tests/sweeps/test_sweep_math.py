"""The parts of a sweep that need no service: the expressions' serialised form (azureml's), the
samplers' draws, and the early termination rules on known series."""
from __future__ import annotations

import itertools
import math

import pytest

from tailrun.train.hyperdrive import (
    BanditPolicy, BayesianParameterSampling, GridParameterSampling, MedianStoppingPolicy,
    RandomParameterSampling, TruncationSelectionPolicy, choice, lognormal, loguniform, normal, qlognormal,
    qloguniform, qnormal, quniform, randint, uniform,
)
from tailrun_service.orchestration.hyperdrive import policies
from tailrun_service.orchestration.hyperdrive.sampling import BayesianSampler, GridSampler, RandomSampler


def test_expressions_serialise_as_azureml_does():
    assert choice(1, 2, 3) == choice([1, 2, 3]) == choice(range(1, 4)) == ["choice", [[1, 2, 3]]]
    assert randint(5) == ["randint", [5]]
    assert uniform(0, 1) == ["uniform", [0, 1]]
    assert quniform(0, 10, 2) == ["quniform", [0, 10, 2]]
    assert qlognormal(0, 1, 0.5) == ["qlognormal", [0, 1, 0.5]]


def test_random_draws_stay_in_their_distributions_and_repeat_with_the_seed():
    space = RandomParameterSampling({
        "c": choice("a", "b"), "r": randint(4), "u": uniform(-1, 1), "qu": quniform(0, 64, 16),
        "lu": loguniform(-3, 0), "qlu": qloguniform(0, 3, 0.5), "n": normal(10, 1), "qn": qnormal(0, 5, 1),
        "ln": lognormal(0, 0.5), "qln": qlognormal(0, 1, 0.25)}).parameter_space
    draws = [RandomSampler(space, 11).next_params(n, []) for n in range(200)]
    assert draws == [RandomSampler(space, 11).next_params(n, []) for n in range(200)]
    assert draws != [RandomSampler(space, 12).next_params(n, []) for n in range(200)]
    for d in draws:
        assert d["c"] in ("a", "b") and d["r"] in range(4) and -1 <= d["u"] <= 1
        assert d["qu"] in (0, 16, 32, 48, 64) and isinstance(d["qu"], int)
        assert math.exp(-3) <= d["lu"] <= 1 and d["qlu"] % 0.5 == 0 and d["ln"] > 0
        assert d["qln"] % 0.25 == 0 and d["qn"] == int(d["qn"])
    assert 9 < sum(d["n"] for d in draws) / len(draws) < 11


def test_an_all_choice_random_space_is_drawn_without_repetition_then_ends():
    space = RandomParameterSampling({"a": choice(1, 2, 3), "b": choice("x", "y")}).parameter_space
    sampler, used = RandomSampler(space, 3), []
    while (params := sampler.next_params(len(used), used)) is not None:
        used.append(params)
    assert sorted((p["a"], p["b"]) for p in used) == list(itertools.product([1, 2, 3], ["x", "y"]))


def test_grid_enumerates_in_order_the_first_parameter_slowest():
    space = GridParameterSampling({"a": choice(1, 2), "b": choice("x", "y", "z")}).parameter_space
    sampler = GridSampler(space)
    got = [sampler.next_params(n, []) for n in range(6)]
    assert got == [{"a": a, "b": b} for a, b in itertools.product([1, 2], ["x", "y", "z"])]
    assert sampler.next_params(6, got) is None


def test_bayesian_sampler_resumes_from_recorded_trials():
    space = BayesianParameterSampling({"x": uniform(-1, 1), "q": quniform(0, 10, 1), "c": choice("a", "b")}).parameter_space
    first = BayesianSampler(space, 5, maximize=True, total=8)
    params, raw = first.next_params(0, [])
    assert params["q"] == round(raw["q"]) and params["c"] in ("a", "b")
    first.tell(0, 1.5)
    again = BayesianSampler(space, 5, maximize=True, total=8)
    again.restore(0, raw, finished=True, value=1.5)
    again.restore(1, first.next_params(1, [])[1], finished=False, value=None)   # a running child
    assert len(again.study.trials) == 2
    again.tell(1, 0.5)
    assert again.study.best_value == 1.5


BANDIT = BanditPolicy(slack_factor=0.2, evaluation_interval=1, delay_evaluation=2).to_json()


@pytest.mark.parametrize("maximize,series,stopped", [
    (True, {"good": [0.8, 0.9], "bad": [0.5, 0.7]}, True),        # 0.7 < 0.9 / 1.2 = 0.75
    (True, {"good": [0.8, 0.9], "close": [0.5, 0.76]}, False),
    (False, {"good": [1.0, 0.5], "bad": [2.0, 0.61]}, True),      # 0.61 > 0.5 * 1.2 = 0.6
    (False, {"good": [1.0, 0.5], "close": [2.0, 0.59]}, False),
    (True, {"good": [0.8, 0.9, 1.0], "late": [0.1]}, False),      # delay_evaluation: 1 value < 2
])
def test_bandit_slack_factor(maximize, series, stopped):
    child = next(c for c in series if c != "good")
    reason = policies.verdict(BANDIT, maximize, child, series, set())
    assert bool(reason) is stopped
    if stopped:
        assert reason.startswith("BanditPolicy:")


def test_bandit_slack_amount_and_the_interval():
    policy = BanditPolicy(slack_amount=0.1, evaluation_interval=2).to_json()
    series = {"good": [0.9, 0.9, 0.9], "bad": [0.5, 0.7, 0.7]}
    assert policies.verdict(policy, True, "bad", {"good": series["good"], "bad": [0.5]}, set()) is None  # not due
    assert "0.9 - 0.1 = 0.8" in policies.verdict(policy, True, "bad", {"good": series["good"], "bad": [0.5, 0.7]},
                                                 set())
    assert policies.verdict(policy, True, "bad", series, set()) is None   # 3 values: not a multiple of 2


def test_median_stopping_and_truncation_selection():
    median = MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=1).to_json()
    series = {"a": [0.9], "b": [0.8], "c": [0.1]}
    assert "median 0.85" in policies.verdict(median, True, "c", series, set())
    assert policies.verdict(median, True, "a", series, set()) is None
    truncation = TruncationSelectionPolicy(truncation_percentage=50).to_json()
    four = {"a": [0.9], "b": [0.8], "c": [0.2], "d": [0.1]}
    assert policies.verdict(truncation, True, "c", four, set()).startswith("TruncationSelectionPolicy")
    assert policies.verdict(truncation, True, "b", four, set()) is None
    excluded = TruncationSelectionPolicy(truncation_percentage=50, exclude_finished_jobs=True).to_json()
    assert policies.verdict(excluded, True, "c", four, {"a", "b", "d"}) is None   # alone in the ranking

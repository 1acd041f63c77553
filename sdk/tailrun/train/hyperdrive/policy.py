"""Azure ML's `azureml.train.hyperdrive.policy`: early termination, evaluated by the service as
each child logs the primary metric (one logged value = one interval). A policy is applied at every
multiple of `evaluation_interval` that is at least `delay_evaluation`; a child it stops is Canceled
with error code "EarlyTermination" and a message naming the policy and the values compared.

- BanditPolicy: stop a child whose best value so far is not within `slack_factor` (a ratio:
  maximising, best < reference / (1 + slack_factor); minimising, best > reference * (1 + slack_factor))
  or `slack_amount` (an absolute distance) of the best value any child had at that interval.
- MedianStoppingPolicy: stop a child whose best value so far is worse than the median of the
  other children's running averages at that interval.
- TruncationSelectionPolicy: at each interval, stop a child if it is among the lowest
  `truncation_percentage` percent of the children that reached that interval (finished children
  are left out of the ranking with `exclude_finished_jobs`).
- NoTerminationPolicy: children run to the end.
"""
from __future__ import annotations

from typing import Any

__all__ = ["EarlyTerminationPolicy", "BanditPolicy", "MedianStoppingPolicy", "TruncationSelectionPolicy",
           "NoTerminationPolicy"]


def _interval(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}")
    return value


class EarlyTerminationPolicy:
    POLICY_NAME = ""

    def __init__(self, evaluation_interval: int = 1, delay_evaluation: int = 0) -> None:
        self._evaluation_interval = _interval("evaluation_interval", evaluation_interval, 1)
        self._delay_evaluation = _interval("delay_evaluation", delay_evaluation, 0)

    @property
    def evaluation_interval(self) -> int:
        return self._evaluation_interval

    @property
    def delay_evaluation(self) -> int:
        return self._delay_evaluation

    def to_json(self) -> dict[str, Any]:
        return {"name": self.POLICY_NAME, "properties": {"evaluation_interval": self._evaluation_interval,
                                                         "delay_evaluation": self._delay_evaluation}}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_json()['properties']})"


class BanditPolicy(EarlyTerminationPolicy):
    POLICY_NAME = "Bandit"

    def __init__(self, evaluation_interval: int = 1, slack_factor: float | None = None,
                 slack_amount: float | None = None, delay_evaluation: int = 0) -> None:
        super().__init__(evaluation_interval, delay_evaluation)
        if (slack_factor is None) == (slack_amount is None):
            raise ValueError("BanditPolicy: give exactly one of slack_factor and slack_amount")
        slack = slack_factor if slack_factor is not None else slack_amount
        if isinstance(slack, bool) or not isinstance(slack, (int, float)) or not slack > 0:
            raise ValueError(f"BanditPolicy: the slack must be a positive number, got {slack!r}")
        self.slack_factor, self.slack_amount = slack_factor, slack_amount

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["properties"].update({"slack_factor": self.slack_factor, "slack_amount": self.slack_amount})
        return data


class MedianStoppingPolicy(EarlyTerminationPolicy):
    POLICY_NAME = "MedianStopping"

    def __init__(self, evaluation_interval: int = 1, delay_evaluation: int = 5) -> None:
        super().__init__(evaluation_interval, delay_evaluation)


class TruncationSelectionPolicy(EarlyTerminationPolicy):
    POLICY_NAME = "TruncationSelection"

    def __init__(self, truncation_percentage: int, evaluation_interval: int = 1, delay_evaluation: int = 0,
                 exclude_finished_jobs: bool = False) -> None:
        super().__init__(evaluation_interval, delay_evaluation)
        if isinstance(truncation_percentage, bool) or not isinstance(truncation_percentage, int) \
                or not 1 <= truncation_percentage <= 99:
            raise ValueError(f"TruncationSelectionPolicy: truncation_percentage must be an integer from 1 "
                             f"to 99, got {truncation_percentage!r}")
        self.truncation_percentage = truncation_percentage
        self.exclude_finished_jobs = bool(exclude_finished_jobs)

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["properties"].update({"truncation_percentage": self.truncation_percentage,
                                   "exclude_finished_jobs": self.exclude_finished_jobs})
        return data


class NoTerminationPolicy(EarlyTerminationPolicy):
    POLICY_NAME = "Default"

    def __init__(self) -> None:
        super().__init__(1, 0)

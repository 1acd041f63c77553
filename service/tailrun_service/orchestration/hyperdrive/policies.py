"""Early termination (see tailrun.train.hyperdrive.policy for the semantics). One logged value of
the primary metric is one interval; `series` maps each child to its values in order."""
from __future__ import annotations

import statistics
from typing import Any


def due(policy: dict[str, Any], count: int) -> bool:
    """Whether a child with `count` values is evaluated at its latest interval."""
    props = policy.get("properties", {})
    interval, delay = int(props.get("evaluation_interval", 1)), int(props.get("delay_evaluation", 0))
    return count > 0 and count % interval == 0 and count >= delay


def best_of(values: list[float], maximize: bool) -> float:
    return max(values) if maximize else min(values)


def verdict(policy: dict[str, Any], maximize: bool, child: str, series: dict[str, list[float]],
            finished: set[str]) -> str | None:
    """Why `child` should stop now, or None. Evaluated at the child's latest due interval n, against
    the children that reached n (their first n values)."""
    name = policy.get("name", "Default")
    mine = series.get(child, [])
    n = len(mine)
    if name == "Default" or not due(policy, n):
        return None
    props = policy.get("properties", {})
    reached = {c: values[:n] for c, values in series.items() if len(values) >= n}
    own = best_of(mine, maximize)
    worse = (lambda a, b: a < b) if maximize else (lambda a, b: a > b)
    if name == "Bandit":
        reference = best_of([best_of(v, maximize) for v in reached.values()], maximize)
        factor, amount = props.get("slack_factor"), props.get("slack_amount")
        if factor is not None:
            limit = reference / (1 + factor) if maximize else reference * (1 + factor)
            rule = f"{'/' if maximize else '*'} (1 + {factor:g})"
        else:
            limit = reference - amount if maximize else reference + amount
            rule = f"{'-' if maximize else '+'} {amount:g}"
        if worse(own, limit):
            return (f"BanditPolicy: best value {own:g} after {n} intervals is outside the slack of the best "
                    f"run's {reference:g} {rule} = {limit:g}")
        return None
    if name == "MedianStopping":
        others = [statistics.fmean(v) for c, v in reached.items() if c != child]
        if not others:
            return None
        median = statistics.median(others)
        if worse(own, median):
            return (f"MedianStoppingPolicy: best value {own:g} after {n} intervals is worse than the median "
                    f"{median:g} of the other runs' running averages")
        return None
    if name == "TruncationSelection":
        pool = {c: v for c, v in reached.items() if not (props.get("exclude_finished_jobs") and c in finished)}
        pool[child] = mine
        percentage = int(props["truncation_percentage"])
        cut = len(pool) * percentage // 100
        if cut < 1:
            return None
        ranked = sorted(pool, key=lambda c: best_of(pool[c], maximize), reverse=maximize)
        if child in ranked[len(ranked) - cut:]:
            return (f"TruncationSelectionPolicy: best value {own:g} after {n} intervals is in the lowest "
                    f"{percentage}% of {len(pool)} runs")
        return None
    return None

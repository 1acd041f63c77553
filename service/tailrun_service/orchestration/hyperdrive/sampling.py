"""The samplers of a sweep: the parameters of child n, from the search space (checked by
tailrun.train.hyperdrive._space) and, for Bayesian sampling, the finished children's results.

Random and grid sampling are pure functions of (seed, n): a restarted service draws the same
values again. Bayesian sampling asks Optuna's TPESampler; its trials are rebuilt from the
recorded children after a restart (a child's parameters are recorded before it is submitted).
"""
from __future__ import annotations

import math
import random
from typing import Any

from tailrun.train.hyperdrive._space import grid_size

NO_MORE = None   # next_params' answer once the space is used up


def draw(kind: str, args: list, rng: random.Random) -> Any:
    """One value of a parameter expression (azureml's / hyperopt's definitions)."""
    if kind == "choice":
        return rng.choice(args[0])
    if kind == "randint":
        return rng.randrange(int(args[0]))
    if kind in ("uniform", "quniform"):
        value = rng.uniform(args[0], args[1])
    elif kind in ("loguniform", "qloguniform"):
        value = math.exp(rng.uniform(args[0], args[1]))
    elif kind in ("normal", "qnormal"):
        value = rng.gauss(args[0], args[1])
    elif kind in ("lognormal", "qlognormal"):
        value = math.exp(rng.gauss(args[0], args[1]))
    else:
        raise ValueError(f"unknown parameter expression {kind!r}")
    return quantize(value, args[2]) if kind.startswith("q") else value


def quantize(value: float, q: float) -> float | int:
    """round(value / q) * q; an integer when q is one (a batch size stays `32`, not `32.0`)."""
    out = round(value / q) * q
    if isinstance(q, int) and not isinstance(q, bool):
        return int(out)
    return round(out, 12)


class RandomSampler:
    """Independent draws per child from Random(f"{seed}:{n}"). When every parameter is a choice,
    combinations are not repeated and the sweep ends when all have run."""

    def __init__(self, space: dict[str, list], seed: int) -> None:
        self.space, self.seed = space, seed
        self.discrete = all(kind == "choice" for kind, _ in space.values())
        self.size = grid_size(space) if self.discrete else 0

    def next_params(self, n: int, used: list[dict[str, Any]]) -> dict[str, Any] | None:
        if self.discrete:
            if len(used) >= self.size:
                return NO_MORE
            taken = {_key(p) for p in used}
            rng = random.Random(f"{self.seed}:{n}")
            while True:   # rejection: terminates, since a combination is still free
                params = {name: rng.choice(args[0]) for name, (_kind, args) in self.space.items()}
                if _key(params) not in taken:
                    return params
        rng = random.Random(f"{self.seed}:{n}")
        return {name: draw(kind, args, rng) for name, (kind, args) in self.space.items()}


class GridSampler:
    """Every combination of the choices, the first parameter varying slowest."""

    def __init__(self, space: dict[str, list]) -> None:
        self.space = space
        self.size = grid_size(space)

    def next_params(self, n: int, used: list[dict[str, Any]]) -> dict[str, Any] | None:
        if n >= self.size:
            return NO_MORE
        params: dict[str, Any] = {}
        rest = n
        for name, (_kind, args) in reversed(list(self.space.items())):
            options = args[0]
            rest, index = divmod(rest, len(options))
            params[name] = options[index]
        return {name: params[name] for name in self.space}


class BayesianSampler:
    """TPE (Optuna) over the children's best primary metric. `raw` values (before quantizing) are
    what Optuna is told; the child gets the quantized ones."""

    def __init__(self, space: dict[str, list], seed: int, maximize: bool, total: int) -> None:
        import optuna
        from optuna.distributions import CategoricalDistribution, FloatDistribution

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        self.space = space
        self.distributions = {
            name: CategoricalDistribution(args[0]) if kind == "choice" else FloatDistribution(args[0], args[1])
            for name, (kind, args) in space.items()}
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, min(10, total // 4)),
                                             constant_liar=True)
        self.study = optuna.create_study(direction="maximize" if maximize else "minimize", sampler=sampler)
        self.pending: dict[int, Any] = {}   # child n -> its running trial

    def next_params(self, n: int, used: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
        trial = self.study.ask(self.distributions)
        self.pending[n] = trial
        return self.child_params(trial.params), dict(trial.params)

    def child_params(self, raw: dict[str, Any]) -> dict[str, Any]:
        return {name: quantize(raw[name], args[2]) if kind == "quniform" else raw[name]
                for name, (kind, args) in self.space.items()}

    def restore(self, n: int, raw: dict[str, Any], finished: bool, value: float | None) -> None:
        """A child recorded before a restart: a finished trial, or a running one."""
        from optuna.trial import TrialState, create_trial
        if finished:
            state = TrialState.COMPLETE if value is not None else TrialState.FAIL
            self.study.add_trial(create_trial(params=raw, distributions=self.distributions, value=value,
                                              state=state))
        else:
            self.study.enqueue_trial(raw)
            self.pending[n] = self.study.ask(self.distributions)

    def tell(self, n: int, value: float | None) -> None:
        trial = self.pending.pop(n, None)
        if trial is None:
            return
        from optuna.trial import TrialState
        if value is None:
            self.study.tell(trial, state=TrialState.FAIL)
        else:
            self.study.tell(trial, value)


def _key(params: dict[str, Any]) -> str:
    return repr(sorted((k, repr(v)) for k, v in params.items()))

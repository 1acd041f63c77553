"""The HyperDrive controller: a sweep's parent run (run_type "hyperdrive").

The run definition is the child script's own definition plus the key "hyperdrive" (written by
tailrun.train.hyperdrive.runconfig.HyperDriveConfig): sampling {name, parameter_space, properties},
policy {name, properties}, primary_metric_name, primary_metric_goal ("maximize"/"minimize"),
max_total_runs, max_concurrent_runs, max_duration_minutes.

Child n is `<parent>_<n>`: the script with the sampled values appended to its arguments
(`--name value`), property `hyperparameters` (JSON, the names as given). Its parameters are
recorded in the state before it is submitted, so a restart submits the same child, once. The parent's
console gets one line per child start and end; its tags `best_child_run_id` and
`best_metric_value` follow the best child. The parent ends Completed once every child has ended
(Failed when none completed and one failed), with a warning when no child logged the primary metric.
"""
from __future__ import annotations

import importlib.util
import json
import random
import time
from typing import Any

from tailrun import _status as st
from tailrun.train.hyperdrive._space import argument_name, check_space

from ...errors import InvalidArgument
from ..core import Controller
from . import policies
from .sampling import BayesianSampler, GridSampler, RandomSampler

POLICIES = ("Default", "Bandit", "MedianStopping", "TruncationSelection")
POLICY_NAMES = {"Default": "NoTerminationPolicy", "Bandit": "BanditPolicy",
                "MedianStopping": "MedianStoppingPolicy", "TruncationSelection": "TruncationSelectionPolicy"}
TERMINATED = "EarlyTermination"


class HyperDriveController(Controller):
    kind = "hyperdrive"
    run_type = "hyperdrive"

    def __init__(self, run: Any) -> None:
        super().__init__(run)
        self.hd = run.definition["hyperdrive"]
        self.metrics = (self.hd["primary_metric_name"],)
        self.maximize = self.hd["primary_metric_goal"] == "maximize"
        self.space = check_space(self.hd["sampling"]["parameter_space"], self.hd["sampling"]["name"])
        self._sampler: Any = None

    # ---------------------------------------------------------------- submit-time checks

    @classmethod
    def check(cls, definition: dict[str, Any]) -> None:
        hd = definition.get("hyperdrive")
        if not isinstance(hd, dict):
            raise InvalidArgument("the run definition's 'hyperdrive' must be an object (a HyperDriveConfig)")
        sampling = hd.get("sampling")
        if not isinstance(sampling, dict):
            raise InvalidArgument("hyperdrive: 'sampling' is missing")
        try:
            check_space(sampling.get("parameter_space"), str(sampling.get("name")))
        except ValueError as exc:
            raise InvalidArgument(f"hyperdrive: {exc}") from None
        seed = (sampling.get("properties") or {}).get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidArgument(f"hyperdrive: the sampling seed must be an integer, got {seed!r}")
        if not isinstance(hd.get("primary_metric_name"), str) or not hd["primary_metric_name"]:
            raise InvalidArgument("hyperdrive: primary_metric_name must be a non-empty string")
        if hd.get("primary_metric_goal") not in ("maximize", "minimize"):
            raise InvalidArgument(f"hyperdrive: primary_metric_goal must be 'maximize' or 'minimize', "
                                  f"got {hd.get('primary_metric_goal')!r}")
        for name in ("max_total_runs", "max_concurrent_runs", "max_duration_minutes"):
            value = hd.get(name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgument(f"hyperdrive: {name} must be a positive integer, got {value!r}")
        policy = hd.get("policy") or {"name": "Default"}
        if not isinstance(policy, dict) or policy.get("name") not in POLICIES:
            raise InvalidArgument(f"hyperdrive: unknown early termination policy {policy!r}; known: "
                                  f"{', '.join(POLICY_NAMES.values())}")
        if sampling.get("name") == "bayesian" and policy.get("name") != "Default":
            raise InvalidArgument("hyperdrive: Bayesian sampling does not support early termination policies")
        if sampling.get("name") == "bayesian" and importlib.util.find_spec("optuna") is None:
            raise InvalidArgument("hyperdrive: Bayesian sampling needs Optuna in the service: install the "
                                  "service with pip install 'tailrun[sweeps]'")
        if definition.get("command") and definition.get("script"):
            raise InvalidArgument("the run definition has both a command and a script; give one")
        if not definition.get("script"):
            raise InvalidArgument("a sweep needs a script to run (its parameters are passed as arguments)")

    @classmethod
    def parent_properties(cls, definition: dict[str, Any]) -> dict[str, str]:
        hd = definition["hyperdrive"]
        return {"primary_metric_config": json.dumps({"name": hd["primary_metric_name"],
                                                     "goal": hd["primary_metric_goal"]}),
                "hyperdrive.sampling": hd["sampling"]["name"],
                "hyperdrive.policy": POLICY_NAMES[(hd.get("policy") or {}).get("name", "Default")],
                "max_total_runs": str(hd["max_total_runs"]),
                "max_concurrent_runs": str(hd["max_concurrent_runs"])}

    # ---------------------------------------------------------------- decisions

    def update(self) -> None:
        run, state = self.run, self.run.state
        plan: list[dict[str, Any]] = state.setdefault("plan", [])
        state.setdefault("seed", random.SystemRandom().randrange(2 ** 31)
                         if self.hd["sampling"].get("properties", {}).get("seed") is None
                         else int(self.hd["sampling"]["properties"]["seed"]))
        state.setdefault("started_at", time.time())
        if "warned_limit" not in state:
            state["warned_limit"] = True
            self._warn_about_limit()
        sampler = self._sampler_for(plan)
        self._report_children(plan, sampler)
        self._apply_policy(plan)
        self._track_best(plan)
        deadline = state["started_at"] + 60 * self.hd["max_duration_minutes"]
        if time.time() >= deadline and not state.get("timed_out"):
            state["timed_out"] = True
            message = (f"max_duration_minutes ({self.hd['max_duration_minutes']}) reached: no new runs; "
                       "the running ones are canceled")
            run.log(message)
            run.patch(warnings=[message])
            for child in run.active_children():
                state.setdefault("timed_out_children", []).append(child)
                run.cancel_child(child, *self._timeout_error())
        if not state.get("timed_out"):
            run.wake_at(deadline)
            self._submit_next(plan, sampler)
        if not run.active_children() and self._no_more(plan):
            self._finish(plan)

    def _sampler_for(self, plan: list[dict[str, Any]]) -> Any:
        if self._sampler is not None:
            return self._sampler
        name, seed = self.hd["sampling"]["name"], self.run.state["seed"]
        if name == "grid":
            self._sampler = GridSampler(self.space)
        elif name == "random":
            self._sampler = RandomSampler(self.space, seed)
        else:
            self._sampler = BayesianSampler(self.space, seed, self.maximize, self.hd["max_total_runs"])
            for n, entry in enumerate(plan):   # after a restart: the trials so far
                child = self.run.children.get(self._child_id(n))
                finished = child is not None and st.is_terminal(child.status)
                self._sampler.restore(n, entry["raw"], finished, self._result(n) if finished else None)
        return self._sampler

    def _submit_next(self, plan: list[dict[str, Any]], sampler: Any) -> None:
        run = self.run
        # Planned before a restart but not submitted: submit it now, with the recorded values.
        for n, entry in enumerate(plan):
            if self._child_id(n) not in run.children:
                self._submit(n, entry["params"])
        while (len(plan) < self.hd["max_total_runs"] and not run.state.get("exhausted")
               and len(run.active_children()) < self.hd["max_concurrent_runs"]):
            n = len(plan)
            used = [entry["params"] for entry in plan]
            drawn = sampler.next_params(n, used)
            if drawn is None:
                run.state["exhausted"] = True
                run.log(f"the search space is used up: {n} combinations, fewer than max_total_runs "
                        f"{self.hd['max_total_runs']}")
                break
            params, raw = drawn if isinstance(drawn, tuple) else (drawn, None)
            plan.append({"params": params, "raw": raw})
            run.save()   # recorded before the child exists: a restart submits this one, once
            self._submit(n, params)

    def _submit(self, n: int, params: dict[str, Any]) -> None:
        definition = {k: v for k, v in self.run.definition.items() if k != "hyperdrive"}
        arguments = [str(a) for a in definition.get("arguments") or []]
        for name, value in params.items():
            arguments += [argument_name(name), _arg(value)]
        definition["arguments"] = arguments
        self.run.submit_child(str(n), definition, properties={"hyperparameters": json.dumps(params)})

    def _report_children(self, plan: list[dict[str, Any]], sampler: Any) -> None:
        """One console line per child start and end (each once: recorded in the state)."""
        run, state = self.run, self.run.state
        started, ended = state.setdefault("started", []), state.setdefault("ended", [])
        total = self.hd["max_total_runs"]
        for n, entry in enumerate(plan):
            child = run.children.get(self._child_id(n))
            if child is None:
                continue
            label = f"[{n + 1}/{total}] {child.run_id}"
            args = _describe(entry["params"])
            if n not in started and (child.status == st.RUNNING or child.start_time > 0):
                started.append(n)
                run.log(f"{label} started    {args}")
            if n not in ended and st.is_terminal(child.status):
                ended.append(n)
                value = self._result(n)
                shown = f"{self.metrics[0]}={value:g}" if value is not None else f"{self.metrics[0]}: not logged"
                reason = state.get("terminated", {}).get(str(n))
                # The script's own SIGTERM handler may have recorded "stopped by SIGTERM" since:
                # the sweep's reason is the last word.
                if reason and child.status == st.CANCELED:
                    run.set_child_error(child.run_id, TERMINATED, _terminated_message(reason))
                elif child.run_id in state.get("timed_out_children", ()) and child.status == st.CANCELED:
                    run.set_child_error(child.run_id, *self._timeout_error())
                detail = f"  ({reason})" if reason else ""
                run.log(f"{label} {child.status:<10} {args}  {shown}{detail}")
                if isinstance(sampler, BayesianSampler):
                    sampler.tell(n, value if child.status == st.COMPLETED else None)

    def _apply_policy(self, plan: list[dict[str, Any]]) -> None:
        policy = self.hd.get("policy") or {"name": "Default"}
        if policy.get("name", "Default") == "Default":
            return
        run = self.run
        series = {}
        finished = set()
        for n in range(len(plan)):
            child = run.children.get(self._child_id(n))
            if child is None:
                continue
            values = self._numbers(n)
            if values:
                series[child.run_id] = values
            if st.is_terminal(child.status):
                finished.add(child.run_id)
        terminated = run.state.setdefault("terminated", {})
        for n in range(len(plan)):
            child_id = self._child_id(n)
            child = run.children.get(child_id)
            if child is None or st.is_terminal(child.status) or child_id not in series or str(n) in terminated:
                continue
            reason = policies.verdict(policy, self.maximize, child_id, series, finished)
            if reason:
                terminated[str(n)] = reason
                run.save()
                run.cancel_child(child_id, TERMINATED, _terminated_message(reason))

    def _track_best(self, plan: list[dict[str, Any]]) -> None:
        best = self._best(plan)
        if best is None:
            return
        child_id, value = best
        if self.run.state.get("best") != [child_id, value]:
            self.run.state["best"] = [child_id, value]
            self.run.patch(tags={"best_child_run_id": child_id, "best_metric_value": repr(value)})

    def _best(self, plan: list[dict[str, Any]]) -> tuple[str, float] | None:
        results = [(self._child_id(n), self._result(n)) for n in range(len(plan))]
        results = [(c, v) for c, v in results if v is not None]
        if not results:
            return None
        return (max if self.maximize else min)(results, key=lambda item: item[1])

    def _no_more(self, plan: list[dict[str, Any]]) -> bool:
        state = self.run.state
        return (len(plan) >= self.hd["max_total_runs"] or bool(state.get("exhausted"))
                or bool(state.get("timed_out")))

    def _finish(self, plan: list[dict[str, Any]]) -> None:
        run, name = self.run, self.metrics[0]
        statuses = [run.children[self._child_id(n)].status for n in range(len(plan))
                    if self._child_id(n) in run.children]
        counts = {s: statuses.count(s) for s in (st.COMPLETED, st.FAILED, st.CANCELED) if s in statuses}
        early = len(run.state.get("terminated", {}))
        summary = ", ".join(f"{count} {status}" for status, count in counts.items())
        if early:
            summary += f"; {early} stopped by {POLICY_NAMES[self.hd['policy']['name']]}"
        best = self._best(plan)
        if best is None and counts.get(st.COMPLETED):
            logged = sorted({m for c in run.children.values() for m in c.metric_names})
            warning = (f"no child run logged the primary metric {name!r}; the children logged "
                       f"{', '.join(map(repr, logged)) if logged else 'no metrics'}")
            run.log(f"sweep ended: {len(statuses)} runs ({summary}); {warning}")
            run.patch(warnings=[warning])
        elif best is not None:
            n = int(best[0].rsplit("_", 1)[1])
            run.log(f"sweep ended: {len(statuses)} runs ({summary}); best {best[0]} {name}={best[1]:g} "
                    f"with {_describe(plan[n]['params'])}")
        else:
            run.log(f"sweep ended: {len(statuses)} runs ({summary})")
        if counts.get(st.COMPLETED, 0) == 0 and counts.get(st.FAILED, 0) > 0:
            first = next(c for c in run.children.values() if c.status == st.FAILED)
            try:
                reason = json.loads(first.error_json)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                reason = "no error recorded"
            run.finish(st.FAILED, "AllChildRunsFailed",
                       f"none of the sweep's {len(statuses)} child runs completed ({summary}); the first "
                       f"failure, {first.run_id}: {reason[:1000]}")
        else:
            run.finish(st.COMPLETED)

    # ---------------------------------------------------------------- helpers

    def _warn_about_limit(self) -> None:
        limit = getattr(self.run._orch.runner, "max_concurrent", None)
        wanted = self.hd["max_concurrent_runs"]
        if limit is not None and wanted > limit and (self.run.definition.get("target") or "local") == "local":
            warning = (f"max_concurrent_runs {wanted} is above the local target's limit of {limit} runs "
                       f"at once: the other children wait as Queued")
            self.run.patch(warnings=[warning])
            self.run.log(warning)

    def _timeout_error(self) -> tuple[str, str]:
        return ("MaxDurationReached",
                f"canceled: the sweep's max_duration_minutes ({self.hd['max_duration_minutes']}) was reached")

    def _child_id(self, n: int) -> str:
        return f"{self.run.run_id}_{n}"

    def _numbers(self, n: int) -> list[float]:
        values = self.run.series(self._child_id(n), self.metrics[0])
        return [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
                and v == v]

    def _result(self, n: int) -> float | None:
        values = self._numbers(n)
        return policies.best_of(values, self.maximize) if values else None


def _terminated_message(reason: str) -> str:
    return f"canceled by the sweep's early termination policy: {reason}"


def _arg(value: Any) -> str:
    return str(value)


def _describe(params: dict[str, Any]) -> str:
    return " ".join(f"{argument_name(k)} {_arg(v)}" for k, v in params.items())

"""Azure ML's `azureml.train.hyperdrive.run`: HyperDriveRun, the parent run of a sweep.

The service drives the sweep (see tailrun_service.orchestration.hyperdrive); this class reads it.
Children are `<parent id>_<n>`, each with its sampled values in the property `hyperparameters`.
"""
from __future__ import annotations

import json
from typing import Any

from ...run import Run

__all__ = ["HyperDriveRun"]


class HyperDriveRun(Run):
    """A sweep's parent run (run type "hyperdrive")."""

    RUN_TYPE = "hyperdrive"

    # ---------------------------------------------------------------- the sweep's configuration

    def _primary_metric_config(self) -> dict[str, str]:
        info = self._fetch()
        try:
            return json.loads(info.properties["primary_metric_config"])
        except (KeyError, ValueError):
            raise ValueError(f"run {self.id} is not a sweep (it has no primary metric configuration)") from None

    def _children_infos(self) -> list[Any]:
        infos = list(self._client().iter_runs(parent_run_id=self.id))
        return sorted(infos, key=lambda info: _child_number(info.run_id))

    # ---------------------------------------------------------------- azureml's methods

    def get_hyperparameters(self) -> dict[str, str]:
        """`{child run id: JSON of its hyperparameters}` (the names as given in the search space)."""
        return {info.run_id: info.properties.get("hyperparameters", "{}") for info in self._children_infos()}

    def get_metrics(self, name: str | None = None, recursive: bool = False, run_type: str | None = None,
                    populate: bool = False) -> dict[str, dict[str, Any]]:
        """The metrics of every child, `{child run id: {metric name: value}}` (each child's as
        `Run.get_metrics` shapes them; `{}` for a child without metrics)."""
        found = super().get_metrics(name=name, recursive=True, run_type=run_type, populate=populate)
        return {info.run_id: found.get(info.run_id, {}) for info in self._children_infos()}

    def get_children_sorted_by_primary_metric(self, top: int = 0, reverse: bool = False,
                                              discard_no_metric: bool = False) -> list[dict[str, Any]]:
        """The children, best first by their best primary metric value: dicts with `run_id`,
        `hyperparameters` (JSON), `best_primary_metric` (None if never logged) and `status`.
        Children without the metric come last (or are left out with `discard_no_metric`);
        `reverse` puts the worst first; `top` keeps the first `top` (0 = all)."""
        config = self._primary_metric_config()
        maximize = config["goal"] == "maximize"
        metrics = self.get_metrics(name=config["name"])
        rows = []
        for info in self._children_infos():
            best = _best(metrics.get(info.run_id, {}).get(config["name"]), maximize)
            if best is None and discard_no_metric:
                continue
            rows.append({"run_id": info.run_id, "hyperparameters": info.properties.get("hyperparameters", "{}"),
                         "best_primary_metric": best, "status": info.status})
        with_value = sorted((r for r in rows if r["best_primary_metric"] is not None),
                            key=lambda r: r["best_primary_metric"], reverse=maximize != reverse)
        rows = with_value + [r for r in rows if r["best_primary_metric"] is None]
        return rows[:top] if top else rows

    def get_best_run_by_primary_metric(self, include_failed: bool = True, include_canceled: bool = True,
                                       include_resume_from_runs: bool = True) -> Run | None:
        """The child with the best primary metric value, or None when no child logged it."""
        from ...run import _attach_info
        excluded = {"Failed"} if not include_failed else set()
        if not include_canceled:
            excluded.add("Canceled")
        for row in self.get_children_sorted_by_primary_metric(discard_no_metric=True):
            if row["status"] not in excluded:
                return _attach_info(self.experiment, self._client().get_run(row["run_id"]))
        return None

    def cancel(self) -> None:
        """Cancel the sweep: its queued and running children are canceled, then the parent
        ends Canceled."""
        self._apply_info(self._client().cancel_run(self.id))

    @property
    def hyperparameter_sampling(self) -> dict[str, Any]:
        """The sweep's sampling as submitted (name, parameter_space, properties)."""
        return json.loads(self._fetch().run_definition_json or "{}").get("hyperdrive", {}).get("sampling", {})


def _child_number(run_id: str) -> tuple[int, str]:
    tail = run_id.rsplit("_", 1)[-1]
    return (int(tail), run_id) if tail.isdigit() else (1 << 62, run_id)


def _best(value: Any, maximize: bool) -> float | None:
    values = value if isinstance(value, list) else [value]
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v]
    if not numbers:
        return None
    return max(numbers) if maximize else min(numbers)

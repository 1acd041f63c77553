"""MLflow's tracking store for `tailrun://` URIs (registered under the `mlflow.tracking_store`
entry point): MLflow's fluent API and MlflowClient log to and read from a tailrun service.

Writes go through the SDK's normal path (each MLflow run is a tailrun `Run` owned by this
process: queued, spooled, stored exactly once), so an MLflow run is live in the UI like any run.
Reads flush this process's queue first, then ask the service. The mapping:

| MLflow | tailrun |
|---|---|
| experiment (id "0" = "Default") | experiment (its id; "Default" has id "0" for MLflow) |
| run id, run name, user | run id (a uuid4 hex), display name, submitted_by |
| `log_metric(key, value, step, timestamp)` | scalar metric `key` with steps, time = timestamp / 1000 |
| `log_param` | property (add-only in both) |
| `set_tag` / `delete_tag` | tag (`mlflow.runName` also sets the display name) |
| nested run (`mlflow.parentRunId`) | child run |
| status FINISHED / FAILED / KILLED | Completed / Failed / Canceled (any other tailrun status reads RUNNING) |
| artifacts | run files at the same paths (tailrun_plugin.artifacts) |

Not supported (MlflowException): deleting runs, renaming experiments, traces, logged models,
datasets. `search_runs` reads every run of the experiments and filters, sorts and pages them with
MLflow's own SearchUtils (fine for hundreds of runs, not for a million).
"""
from __future__ import annotations

import threading
import uuid
from typing import Any

from mlflow.entities import (Experiment as MlflowExperiment, LifecycleStage, Metric, Param, Run as MlflowRun,
                             RunData, RunInfo, RunInputs, RunStatus, RunTag, ViewType)
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (INVALID_PARAMETER_VALUE, RESOURCE_ALREADY_EXISTS,
                                          RESOURCE_DOES_NOT_EXIST)
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.tracking.abstract_store import AbstractStore
from mlflow.utils.search_utils import SearchExperimentsUtils, SearchUtils

from .. import _status
from .._mlflow_uri import artifact_uri, settings_for
from ..exceptions import AzureMLException, NotFound
from ..metrics_shape import collect, series
from ..workspace import Workspace

DEFAULT_EXPERIMENT = "Default"
DEFAULT_ID = "0"
PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"
TO_TAILRUN = {RunStatus.FINISHED: _status.COMPLETED, RunStatus.FAILED: _status.FAILED,
              RunStatus.KILLED: _status.CANCELED}
TO_MLFLOW = {_status.COMPLETED: "FINISHED", _status.FAILED: "FAILED", _status.CANCELED: "KILLED",
             _status.NOT_STARTED: "SCHEDULED", _status.QUEUED: "SCHEDULED"}
VIEW_TYPES = {ViewType.ACTIVE_ONLY: "ActiveOnly", ViewType.DELETED_ONLY: "ArchivedOnly", ViewType.ALL: "All"}

# Runs this process created through MLflow, by id: their writer (the SDK Run that owns them).
_open_runs: dict[str, Any] = {}
_lock = threading.Lock()


class TailrunStore(AbstractStore):
    def __init__(self, store_uri: str | None = None, artifact_uri: str | None = None) -> None:
        super().__init__()
        self.uri = store_uri or "tailrun://"
        settings = settings_for(self.uri)
        self.ws = Workspace(address=settings.address, token=settings.token, ca_file=settings.ca_file)

    # ------------------------------------------------------------------ plumbing

    def _client(self) -> Any:
        return self.ws._client()

    def _flushed_client(self) -> Any:
        self.ws._recorder().flush(300)
        return self._client()

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a tailrun call; its errors become MlflowExceptions with MLflow's error codes."""
        try:
            return fn(*args, **kwargs)
        except MlflowException:
            raise
        except NotFound as exc:
            raise MlflowException(f"{what}: {exc}", RESOURCE_DOES_NOT_EXIST) from None
        except (ValueError, TypeError) as exc:
            raise MlflowException(f"{what}: {exc}", INVALID_PARAMETER_VALUE) from None
        except AzureMLException as exc:
            raise MlflowException(f"{what}: {exc}") from None

    # ------------------------------------------------------------------ experiments

    def _experiments(self, view: str = "All") -> list[Any]:
        return self._call("listing experiments", self._flushed_client().list_experiments, view_type=view)

    def _to_experiment(self, exp: Any) -> MlflowExperiment:
        exp_id = DEFAULT_ID if exp.name == DEFAULT_EXPERIMENT else exp.id
        return MlflowExperiment(
            experiment_id=exp_id, name=exp.name, artifact_location=f"{self.uri}/experiments/{exp_id}",
            lifecycle_stage=LifecycleStage.DELETED if exp.archived_time else LifecycleStage.ACTIVE,
            tags=[], creation_time=int(exp.created_time * 1000), last_update_time=int(exp.last_activity * 1000))

    def _experiment_name(self, experiment_id: str) -> str:
        if str(experiment_id) == DEFAULT_ID:
            return DEFAULT_EXPERIMENT
        for exp in self._experiments():
            if exp.id == str(experiment_id):
                return exp.name
        raise MlflowException(f"no experiment with id {experiment_id!r} on {self.uri}", RESOURCE_DOES_NOT_EXIST)

    def _experiment_id(self, name: str) -> str:
        if name == DEFAULT_EXPERIMENT:
            return DEFAULT_ID
        found = self._call("reading experiments", self._client().get_experiment, name)
        return found.id if found else name

    def search_experiments(self, view_type=ViewType.ACTIVE_ONLY, max_results=1000, filter_string=None,
                           order_by=None, page_token=None):
        experiments = [self._to_experiment(e) for e in self._experiments(VIEW_TYPES.get(view_type, "All"))]
        filtered = SearchExperimentsUtils.filter(experiments, filter_string)
        ordered = SearchExperimentsUtils.sort(filtered, order_by or ["creation_time DESC", "experiment_id ASC"])
        page, token = SearchUtils.paginate(ordered, page_token, max_results)
        return PagedList(page, token)

    def create_experiment(self, name, artifact_location=None, tags=None):
        from ..experiment import Experiment

        if any(e.name == name for e in self._experiments()):
            raise MlflowException(f"experiment {name!r} already exists", RESOURCE_ALREADY_EXISTS)
        self._call(f"creating experiment {name!r}", Experiment, self.ws, name)
        return self._experiment_id_after_create(name)

    def _experiment_id_after_create(self, name: str) -> str:
        for exp in self._experiments():
            if exp.name == name:
                return DEFAULT_ID if name == DEFAULT_EXPERIMENT else exp.id
        raise MlflowException(f"experiment {name!r} was not stored by the service at {self.uri}")

    def get_experiment(self, experiment_id):
        if str(experiment_id) == DEFAULT_ID:
            self._ensure_default()
        for exp in self._experiments():
            if (DEFAULT_ID if exp.name == DEFAULT_EXPERIMENT else exp.id) == str(experiment_id):
                return self._to_experiment(exp)
        raise MlflowException(f"no experiment with id {experiment_id!r} on {self.uri}", RESOURCE_DOES_NOT_EXIST)

    def get_experiment_by_name(self, experiment_name):
        if experiment_name == DEFAULT_EXPERIMENT:
            self._ensure_default()
        for exp in self._experiments():
            if exp.name == experiment_name:
                return self._to_experiment(exp)
        return None

    def _ensure_default(self) -> None:
        from ..experiment import Experiment
        Experiment(self.ws, DEFAULT_EXPERIMENT)  # queued; the next read flushes it

    def delete_experiment(self, experiment_id):
        exp = self.get_experiment(experiment_id)
        self._call("archiving an experiment", self._client().set_experiment_archived, exp.name, "", True)

    def restore_experiment(self, experiment_id):
        exp = self.get_experiment(experiment_id)
        self._call("restoring an experiment", self._client().set_experiment_archived, exp.name, "", False)

    def rename_experiment(self, experiment_id, new_name):
        raise MlflowException("tailrun experiments cannot be renamed", INVALID_PARAMETER_VALUE)

    # ------------------------------------------------------------------ runs: writing

    def create_run(self, experiment_id, user_id, start_time, tags, run_name):
        from ..experiment import Experiment
        from ..run import Run

        name = self._experiment_name(experiment_id)
        tag_dict = {t.key: t.value for t in tags or []}
        if run_name:
            tag_dict.setdefault(RUN_NAME_TAG, run_name)
        run_name = run_name or tag_dict.get(RUN_NAME_TAG) or None
        parent = tag_dict.get(PARENT_TAG) or None
        run_id = uuid.uuid4().hex
        run = self._call("starting a run", Run._start, Experiment(self.ws, name), run_id=run_id, parent_id=parent,
                         default_outputs=False, display_name=run_name, tags=tag_dict,
                         run_type="child" if parent else "interactive",
                         start_time=(start_time / 1000.0) if start_time else None)
        with _lock:
            _open_runs[run_id] = run
        info = RunInfo(run_id=run_id, experiment_id=str(experiment_id), user_id=user_id or "",
                       status=RunStatus.to_string(RunStatus.RUNNING), start_time=start_time, end_time=None,
                       lifecycle_stage=LifecycleStage.ACTIVE, artifact_uri=artifact_uri(self.uri, run_id),
                       run_name=run_name)
        return MlflowRun(info, RunData(tags=[RunTag(k, v) for k, v in tag_dict.items()]), RunInputs([]))

    def _writer(self, run_id: str) -> Any:
        """The SDK Run that writes to `run_id`: ours, or one attached to a run made elsewhere."""
        with _lock:
            run = _open_runs.get(run_id)
        if run is not None:
            return run
        from ..experiment import Experiment
        from ..run import Run

        info = self._call(f"reading run {run_id!r}", self._flushed_client().get_run, run_id)
        return Run._attach(Experiment._attach(self.ws, info.experiment), run_id, info)

    def log_batch(self, run_id, metrics, params, tags):
        run = self._writer(run_id)
        by_key: dict[str, tuple[list, list, list]] = {}
        for m in metrics:
            values, steps, times = by_key.setdefault(m.key, ([], [], []))
            values.append(float(m.value))
            steps.append(int(m.step or 0))
            times.append(m.timestamp / 1000.0)
        for key, (values, steps, times) in by_key.items():
            self._call(f"logging metric {key!r}", run._log_series, key, values, steps, times)
        if params:
            self._call("logging params", run.add_properties, {p.key: p.value for p in params})
        if tags:
            tag_dict = {t.key: t.value for t in tags}
            self._call("setting tags", run.set_tags, tag_dict)
            if RUN_NAME_TAG in tag_dict:
                run.display_name = tag_dict[RUN_NAME_TAG]

    def log_metric(self, run_id, metric):
        self.log_batch(run_id, [metric], [], [])

    def log_param(self, run_id, param):
        self.log_batch(run_id, [], [param], [])

    def set_tag(self, run_id, tag):
        self.log_batch(run_id, [], [], [tag])

    def delete_tag(self, run_id, key):
        run = self._writer(run_id)
        self._call(f"deleting tag {key!r}", run.remove_tags, [key])

    def update_run_info(self, run_id, run_status, end_time, run_name):
        run = self._writer(run_id)
        if run_name:
            run.display_name = run_name
            run.set_tags({RUN_NAME_TAG: run_name})
        status = TO_TAILRUN.get(run_status)
        if status is not None:
            extra = {"time": end_time / 1000.0} if end_time else None
            self._call("finishing the run", run._finish, status, None, True, False, extra)
            with _lock:
                _open_runs.pop(run_id, None)
        else:
            self.ws._recorder().flush(300)
        return self.get_run(run_id).info

    def delete_run(self, run_id):
        raise MlflowException("tailrun does not delete runs", INVALID_PARAMETER_VALUE)

    def restore_run(self, run_id):
        raise MlflowException("tailrun does not delete runs, so none can be restored", INVALID_PARAMETER_VALUE)

    def log_inputs(self, run_id, datasets=None, models=None):
        if datasets or models:
            raise MlflowException("tailrun does not record MLflow datasets or model inputs", INVALID_PARAMETER_VALUE)

    def search_logged_models(self, experiment_ids, filter_string=None, datasets=None, max_results=None,
                             order_by=None, page_token=None):
        """tailrun keeps no MLflow logged models: always none (MLflow's artifact listing asks)."""
        return PagedList([], None)

    # ------------------------------------------------------------------ runs: reading

    def get_run(self, run_id):
        client = self._flushed_client()
        info = self._call(f"reading run {run_id!r}", client.get_run, run_id)
        return self._to_run(client, info, self._experiment_id(info.experiment))

    def _to_run(self, client: Any, info: Any, experiment_id: str) -> MlflowRun:
        chunks = self._call(f"reading metrics of run {info.run_id!r}", client.get_metrics, info.run_id)
        latest = []
        for name, data in collect(chunks, with_index=True).items():
            best = None
            for step, value, t in series(data):
                if type(value) not in (float, int):
                    continue
                key = (step or 0, t, value)
                if best is None or key >= best:
                    best = key
            if best is not None:
                latest.append(Metric(name, float(best[2]), round(best[1] * 1000), best[0]))
        tags = dict(info.tags)
        if info.display_name:
            tags.setdefault(RUN_NAME_TAG, info.display_name)
        if info.parent_run_id:
            tags.setdefault(PARENT_TAG, info.parent_run_id)
        start = info.start_time or info.created_time
        run_info = RunInfo(
            run_id=info.run_id, experiment_id=experiment_id, user_id=info.submitted_by,
            status=TO_MLFLOW.get(info.status, "RUNNING"), start_time=round(start * 1000),
            end_time=round(info.end_time * 1000) if _status.is_terminal(info.status) and info.end_time else None,
            lifecycle_stage=LifecycleStage.ACTIVE, artifact_uri=artifact_uri(self.uri, info.run_id),
            run_name=info.display_name or None)
        data = RunData(metrics=latest, params=[Param(k, v) for k, v in info.properties.items()],
                       tags=[RunTag(k, v) for k, v in tags.items()])
        return MlflowRun(run_info, data, RunInputs([]))

    def get_metric_history(self, run_id, metric_key, max_results=None, page_token=None):
        client = self._flushed_client()
        self._call(f"reading run {run_id!r}", client.get_run, run_id)
        chunks = [c for c in self._call(f"reading metric {metric_key!r}", client.get_metrics, run_id, metric_key)
                  if c.name == metric_key]
        data = collect(chunks, with_index=True).get(metric_key)
        history = [] if data is None else [
            Metric(metric_key, float(value), round(t * 1000), step or 0)
            for step, value, t in series(data) if type(value) in (float, int)]
        return PagedList(history, None)

    def _search_runs(self, experiment_ids, filter_string, run_view_type, max_results, order_by, page_token):
        client = self._flushed_client()
        runs = []
        if run_view_type != ViewType.DELETED_ONLY:
            for experiment_id in experiment_ids:
                name = self._experiment_name(experiment_id)
                infos = self._call("listing runs", client.list_runs, experiment=name, include_children=True)
                runs += [self._to_run(client, info, str(experiment_id)) for info in infos]
        filtered = SearchUtils.filter(runs, filter_string)
        ordered = SearchUtils.sort(filtered, order_by)
        return SearchUtils.paginate(ordered, page_token, max_results)

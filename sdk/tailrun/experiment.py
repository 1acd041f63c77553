"""`Experiment`: a named group of runs (Azure ML's `azureml.core.Experiment`).

Creating one never blocks or touches the network: it queues an `experiment` event and the
service creates the experiment when the event arrives. Reads (`id`, `tags`, `get_runs`, `list`,
`archive`) need a reachable service.

Naming differs from Azure ML on purpose: besides letters, digits, `_` and `-`, tailrun allows
inner spaces and dots (`Experiment(ws, 'my exp')` from the user's notes works); see
`tailrun._values.EXPERIMENT_NAME_RE`.
"""
from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any, Iterator

from ._values import check_experiment_name

if TYPE_CHECKING:  # pragma: no cover
    from .run import Run
    from .v1 import tailrun_pb2 as pb
    from .workspace import Workspace

EVENT = 6  # tailrun._recorder.EVENT; kept literal so that creating an Experiment stays cheap


class Experiment:
    """Runs of one named experiment in a workspace."""

    def __init__(self, workspace: "Workspace", name: str, _create: bool = True, **kwargs: Any) -> None:
        if workspace is None or not hasattr(workspace, "_recorder"):
            raise TypeError(f"Experiment needs a tailrun Workspace, not {type(workspace).__name__}")
        self.name = check_experiment_name(name)
        self.workspace = workspace
        self._info: "pb.Experiment | None" = None
        if _create:
            workspace._recorder().queue.append((EVENT, "", "experiment", {"name": name}))

    @classmethod
    def _attach(cls, workspace: "Workspace", name: str, info: "pb.Experiment | None" = None) -> "Experiment":
        """An Experiment object for a name known to exist (queues nothing)."""
        exp = cls(workspace, name, _create=False)
        exp._info = info
        return exp

    # --------------------------------------------------------------- attributes read from the service

    def _fetch(self) -> "pb.Experiment":
        self.workspace._recorder().flush(30)
        client = self.workspace._client()
        found = client.list_experiments(view_type="ActiveOnly", name=self.name) or \
            client.list_experiments(view_type="All", name=self.name)
        if not found:
            from .exceptions import NotFound
            raise NotFound(f"experiment {self.name!r} does not exist on the tailrun service at {client.address}")
        self._info = max(found, key=lambda e: e.created_time)
        return self._info

    @property
    def id(self) -> str:
        """The experiment's id on the service (fetched on first use)."""
        return (self._info or self._fetch()).id

    @property
    def tags(self) -> dict[str, str]:
        return dict((self._info or self._fetch()).tags)

    @property
    def archived_time(self) -> float | None:
        """When the experiment was archived (unix seconds), or None while active."""
        return (self._fetch()).archived_time or None

    def refresh(self) -> None:
        self._fetch()

    # --------------------------------------------------------------- runs

    def start_logging(self, *args: Any, name: str | None = None, run_id: str | None = None,
                      outputs: str | bool | None = None, snapshot_directory: str | None = ".",
                      display_name: str | None = None, description: str | None = None,
                      tags: dict[str, Any] | None = None, **kwargs: Any) -> "Run":
        """Start an interactive run (status Running) and return it.

        `outputs`: None or True tracks `./outputs`, False nothing, a string that folder; the
        folder is created now and uploaded by `complete()`/`fail()`/`cancel()`/`with`.
        stdout and stderr are also written live to the run's `logs/user_log.txt`.
        `snapshot_directory` (default: the current folder) is zipped now as the run's snapshot
        (its ContentSnapshotId), minus what .tailrunignore/.amlignore/.gitignore exclude, as
        `submit` does; over the limits (300 MB, 2000 files) SnapshotException is raised and no
        run is started; None takes no snapshot. The zip is sent in the background once the
        service has the run (see tailrun.run_snapshots). `name` is Azure ML's deprecated alias of
        `display_name`.
        """
        from .run import Run
        from .run_snapshots import zip_for_start
        zipped = zip_for_start(snapshot_directory)
        try:
            run = Run._start(self, run_id=run_id, outputs=outputs, display_name=display_name or name,
                             description=description, tags=tags, run_type="interactive", console=True)
        except BaseException:
            if zipped is not None:
                zipped.close()
            raise
        if zipped is not None:
            run._send_snapshot_later(zipped, os.fspath(snapshot_directory))
        return run

    def submit(self, config: Any, tags: dict[str, Any] | None = None, **kwargs: Any) -> "Run":
        """Submit a ScriptRunConfig or Estimator (returns a ScriptRun) or a HyperDriveConfig
        (returns a HyperDriveRun) to run on the service."""
        from .script_run import submit
        return submit(self, config, tags=tags, **kwargs)

    def get_runs(self, type: str | None = None, tags: str | dict[str, Any] | None = None,
                 properties: str | dict[str, Any] | None = None,
                 include_children: bool = False) -> Iterator["Run"]:
        """The experiment's runs, newest first (a generator). `tags`/`properties` take a key or a
        `{key: value}` dict."""
        from .run import Run
        yield from Run.list(self, type=type, tags=tags, properties=properties,
                            include_children=include_children)

    # --------------------------------------------------------------- experiments

    @staticmethod
    def list(workspace: "Workspace", experiment_name: str | None = None, view_type: str = "ActiveOnly",
             tags: str | dict[str, Any] | None = None) -> list["Experiment"]:
        """Experiments of a workspace; view_type is "ActiveOnly", "All" or "ArchivedOnly"."""
        if view_type not in ("ActiveOnly", "All", "ArchivedOnly"):
            raise ValueError(f"view_type must be 'ActiveOnly', 'All' or 'ArchivedOnly', not {view_type!r}")
        workspace._recorder().flush(30)
        found = workspace._client().list_experiments(view_type=view_type, name=experiment_name or "")
        wanted = _filter_dict(tags)
        return [Experiment._attach(workspace, e.name, e) for e in found
                if all(k in e.tags and (v is None or e.tags[k] == v) for k, v in wanted.items())]

    def archive(self) -> None:
        """Hide the experiment from the default list. Logging to the name again later creates a
        fresh active experiment."""
        info = self._fetch()
        self._info = self.workspace._client().set_experiment_archived(self.name, info.id, True)

    def reactivate(self, new_name: str | None = None) -> None:
        """Undo `archive()`."""
        if new_name is not None and new_name != self.name:
            warnings.warn("tailrun: Experiment.reactivate(new_name=...) is not supported; name kept",
                          stacklevel=2)
        client = self.workspace._client()
        self.workspace._recorder().flush(30)
        found = client.list_experiments(view_type="ArchivedOnly", name=self.name)
        if not found and self._info is None:
            self._fetch()
        target = max(found, key=lambda e: e.archived_time) if found else self._info
        self._info = client.set_experiment_archived(self.name, target.id, False)

    def __repr__(self) -> str:
        return f"Experiment(Name: {self.name},\nWorkspace: {self.workspace.name})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Experiment) and other.name == self.name and other.workspace == self.workspace

    def __hash__(self) -> int:
        return hash((self.name, self.workspace))


def _filter_dict(selector: str | dict[str, Any] | None) -> dict[str, str | None]:
    """A tags/properties filter: a key (present with any value) or a {key: value} dict."""
    if selector is None:
        return {}
    if isinstance(selector, str):
        return {selector: None}
    if isinstance(selector, dict):
        return {str(k): (None if v is None else str(v)) for k, v in selector.items()}
    raise TypeError(f"a tags/properties filter must be a key or a dict, not {type(selector).__name__}")

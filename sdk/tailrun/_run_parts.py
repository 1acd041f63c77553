"""What each part of `Run` (the mixins in run_*.py) uses of the Run it is mixed into, as Protocols.

A mixin names its Protocol as its base for type checkers only (`if TYPE_CHECKING`); at runtime it
derives from object, so no placeholder method of a part can ever shadow the real one of Run (or
of another part) whatever the order of Run's bases. Imported only by type checkers: it costs
`import tailrun` nothing.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client
    from ._recorder import Recorder
    from .experiment import Experiment
    from .run import Run
    from .v1 import tailrun_pb2 as pb
    from .workspace import Workspace


class RunIdentity(Protocol):
    """Every part but the tags: the run's id and the two ways to the service (run.py)."""
    _id: str

    def _client(self) -> Client: ...       # the one client for queries and unary calls
    def _recorder(self) -> Recorder: ...   # the process's queue and sender (flush, status)


class TagsHost(Protocol):
    """TagsMixin (run_tags.py): the cached tags and properties, and run.py's patch and fetch."""
    _tags: dict[str, str]
    _properties: dict[str, str]

    def _patch(self, **fields: Any) -> None: ...     # queue a RunPatch event
    def _fetch(self) -> pb.RunInfo: ...               # read the run from the service, refresh caches


class FilesHost(RunIdentity, Protocol):
    """FilesMixin (run_files.py): the queue's append (run.py binds it on first use)."""
    _append: Callable[[tuple], None]


class ReadsHost(RunIdentity, Protocol):
    """ReadsMixin (run_reads.py): run.py's fetch and FilesMixin's download."""
    def _fetch(self) -> pb.RunInfo: ...
    def _download_to(self, name: str, dest: Path) -> None: ...


class ChildrenHost(RunIdentity, Protocol):
    """ChildrenMixin (run_children.py): the experiment and the parent, as run.py set them."""
    _experiment: Experiment
    _parent_id: str | None
    _parent_obj: Run | None

    def _fetch(self) -> pb.RunInfo: ...


class SnapshotsHost(RunIdentity, Protocol):
    """SnapshotsMixin (run_snapshots.py): the cached properties, start_logging's snapshot on its
    way, and run.py's fetch."""
    _properties: dict[str, str]
    _pending_snapshot: Any

    def _fetch(self) -> pb.RunInfo: ...


class ModelsHost(RunIdentity, Protocol):
    """ModelsMixin (run_models.py): the workspace, the outputs folder and its early uploads (run.py),
    and FilesMixin's queued upload."""
    _ws: Workspace
    _outputs: tuple[Path, str] | None
    _submitted: bool
    _finished: bool
    _early_uploads: dict[str, tuple[int, int]]

    def _queue_file(self, target: str, source: str | os.PathLike | IO[bytes]) -> int: ...

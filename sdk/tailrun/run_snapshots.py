"""Snapshots of a Run: `take_snapshot`, `restore_snapshot`, `get_snapshot_id` (Azure ML's).

A snapshot is a zip kept by the service once by content; its id is the run property
`ContentSnapshotId`. A submitted run has its source folder's; any other run may take one. As in
Azure ML, a run has at most one: `take_snapshot` on a run that has one raises SnapshotException.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from .exceptions import SnapshotException

if TYPE_CHECKING:  # pragma: no cover
    from ._run_parts import SnapshotsHost as _Run   # what this part uses of Run
else:
    _Run = object

SNAPSHOT_PROPERTY = "ContentSnapshotId"


class SnapshotsMixin(_Run):
    """The snapshots of a Run (mixed into run.Run; uses of it what _run_parts.SnapshotsHost lists)."""

    def get_snapshot_id(self) -> str | None:
        """The id of the run's snapshot (its ContentSnapshotId property), or None."""
        return dict(self._fetch().properties).get(SNAPSHOT_PROPERTY) or None

    def take_snapshot(self, file_or_folder_path_or_list: "str | os.PathLike | list[str | os.PathLike]") -> str:
        """Save a snapshot of the input file or folder (or a list of both) and return its id.

        Folders honour .tailrunignore/.amlignore/.gitignore as `submit` does; a file named
        explicitly is always included. Limits: 300 MB and 2000 files. Raises SnapshotException
        when the run already has a snapshot (a submitted run has its source folder's)."""
        from ._snapshot import SnapshotError, snapshot_entries, zip_entries

        existing = self.get_snapshot_id()
        if existing is not None:
            raise SnapshotException(f"Cannot take snapshot as the run already has one: {existing}")
        try:
            entries = snapshot_entries(file_or_folder_path_or_list)
            zipped = zip_entries(entries, f"the snapshot of run {self._id}")
        except SnapshotError as exc:
            raise SnapshotException(str(exc)) from None
        with zipped:
            info = self._client().put_snapshot(self._id, zipped)
        self._properties.setdefault(SNAPSHOT_PROPERTY, info.snapshot_id)
        return info.snapshot_id

    def restore_snapshot(self, snapshot_id: str | None = None, path: "str | os.PathLike | None" = None) -> str:
        """Download a snapshot (default: the run's own) as `<path>/<snapshot_id>.zip` and return
        that path; `path` defaults to the system's temporary folder."""
        snapshot_id = snapshot_id or self.get_snapshot_id()
        if not snapshot_id:
            raise SnapshotException(
                f"Cannot restore snapshot as run {self._id} has none: it was not submitted with a "
                "source folder and took none with run.take_snapshot()")
        folder = Path(path) if path is not None else Path(tempfile.gettempdir())
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / f"{snapshot_id}.zip"
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{snapshot_id}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                # With the run id too, a run's own token may read its snapshot by id.
                for data in self._client().read_snapshot(run_id=self._id, snapshot_id=snapshot_id):
                    out.write(data)
            os.replace(temp, dest)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return str(dest)

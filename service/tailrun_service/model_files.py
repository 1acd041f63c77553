"""The file store of registered models: <data_dir>/models/<name>/<version>/<path>.

A registration is staged first: its files are written (uploaded chunks, or copies of a run's
files) into a fresh folder under <data_dir>/models/.staging/, and only when the database row is
inserted is that folder renamed to <name>/<version>. A registration that fails at any point
leaves nothing behind (the staging folder is removed), and a model's folder never changes after
its rename. Paths inside a model are checked like run-file paths (artifacts.validate_path).

Limits: each file is at most `max_file_bytes` (the run-file limit, --max-file-bytes, 4 GiB by
default, so anything a run stored can be registered) and a model has at most MAX_MODEL_FILES files.
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import BinaryIO

from .artifacts import ArtifactStore, validate_path, write_at
from .errors import InvalidArgument, NotFound, Unavailable

MAX_MODEL_FILES = 10_000
STAGING = ".staging"                 # model names start with a letter or digit: never a clash
STALE_STAGING_SECONDS = 24 * 3600    # left by a service that died mid-registration
_COPY_BYTES = 1024 * 1024


class Staging:
    """One registration's files before they become a model version."""

    def __init__(self, folder: Path, max_file_bytes: int) -> None:
        self.folder = folder
        self.max_file_bytes = max_file_bytes
        self.started: set[str] = set()    # files with a chunk
        self.finished: set[str] = set()   # files whose last chunk came

    def _target(self, path: str) -> Path:
        validate_path(path)
        if path not in self.started and len(self.started) >= MAX_MODEL_FILES:
            raise InvalidArgument(f"a model has at most {MAX_MODEL_FILES} files")
        return self.folder / path

    def write_chunk(self, path: str, offset: int, data: bytes, last: bool) -> None:
        """Write `data` at `offset` of `path` (relative to the model's root); `last` ends the file."""
        if offset + len(data) > self.max_file_bytes:
            raise InvalidArgument(f"model file {path!r} exceeds the limit of {self.max_file_bytes} bytes")
        write_at(self._target(path), f"model file {path!r}", offset, data, last, _unavailable)
        self.started.add(path)
        if last:
            self.finished.add(path)

    def copy_file(self, source: Path, path: str) -> None:
        """Copy one local file (a run's) to `path` of the model."""
        target = self._target(path)
        try:
            if source.stat().st_size > self.max_file_bytes:
                raise InvalidArgument(f"model file {path!r} exceeds the limit of {self.max_file_bytes} bytes")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        except OSError as exc:
            raise _unavailable(exc) from None
        self.started.add(path)
        self.finished.add(path)

    def manifest(self) -> list[tuple[str, int, str]]:
        """(path, size, sha256) of every staged file, sorted; raises if a file was not finished."""
        unfinished = sorted(self.started - self.finished)
        if unfinished:
            raise InvalidArgument(f"model file(s) {', '.join(map(repr, unfinished[:5]))} were not completed "
                                  "(no chunk with last=true)")
        if not self.finished:
            raise InvalidArgument("the model has no files")
        result = []
        for path in sorted(self.finished):
            digest = hashlib.sha256()
            size = 0
            with open(self.folder / path, "rb") as fh:
                while block := fh.read(_COPY_BYTES):
                    digest.update(block)
                    size += len(block)
            result.append((path, size, digest.hexdigest()))
        return result

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class ModelFileStore:
    """The model folders; knows nothing about the database."""

    def __init__(self, root: Path, max_file_bytes: int) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_file_bytes = max_file_bytes
        self._remove_stale_staging()

    def _remove_stale_staging(self) -> None:
        staging = self.root / STAGING
        if not staging.is_dir():
            return
        cutoff = time.time() - STALE_STAGING_SECONDS   # another replica may be staging right now
        for entry in staging.iterdir():
            try:
                if entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry, ignore_errors=True)
            except OSError:
                pass

    def stage(self) -> Staging:
        folder = self.root / STAGING / uuid.uuid4().hex
        try:
            folder.mkdir(parents=True)
        except OSError as exc:
            raise _unavailable(exc) from None
        return Staging(folder, self.max_file_bytes)

    def stage_run_files(self, staging: Staging, artifacts: ArtifactStore, run_id: str,
                        model_path: str) -> list[str] | None:
        """Copy the run's file `model_path`, or every file under the folder `model_path`, into
        `staging`, as paths relative to model_path's parent. Returns None (nothing copied) when
        the run has no such file or folder, else the copied run paths."""
        parent = model_path.rsplit("/", 1)[0] + "/" if "/" in model_path else ""
        copied = []
        for rel, _st in artifacts.walk(run_id, model_path):
            if rel != model_path and not rel.startswith(model_path + "/"):
                continue   # "outputs/model" must not take "outputs/model.pkl"
            staging.copy_file(artifacts.resolve(run_id, rel), rel[len(parent):])
            copied.append(rel)
        return copied or None

    def version_dir(self, name: str, version: int) -> Path:
        return self.root / name / str(version)

    def commit(self, staging: Staging, name: str, version: int) -> Path:
        """Move the staged files into place as <name>/<version> (called inside the transaction
        that inserts the version, so a leftover folder of that version is an orphan)."""
        final = self.version_dir(name, version)
        try:
            final.parent.mkdir(exist_ok=True)
            if final.exists():   # renamed by a registration whose commit then failed
                shutil.rmtree(final)
            os.rename(staging.folder, final)
        except OSError as exc:
            raise _unavailable(exc) from None
        return final

    def remove(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)

    def open(self, name: str, version: int, path: str) -> BinaryIO:
        validate_path(path)
        target = self.version_dir(name, version) / path
        try:
            return open(target, "rb")
        except FileNotFoundError:
            raise NotFound(f"the files of model {name}:{version} are missing on the service "
                           f"({target} does not exist)") from None


def _unavailable(exc: OSError) -> Exception:
    if exc.errno == errno.ENAMETOOLONG:
        return InvalidArgument(f"a model file path is too long for the file system: {exc.filename}")
    return Unavailable(f"the service cannot store model files: {exc.strerror or exc}; nothing was registered")

"""The files API of a Run: list, upload (through the queue) and download (via ReadFile).

Uploads are queued as EVENT `file` chunks (at most 1 MiB each) like everything else the SDK
writes, so they survive a service outage (spooled, re-sent, stored once); an upload call then
flushes, so the file is stored when it returns (or spooled if the service is down). Large
uploads flush every 64 MiB to bound memory.

`upload_folder` never uploads what a symlink points to outside the folder (a link to ~/.ssh in an
outputs folder must not leak): such links are skipped with a one-line warning naming them. Links
that stay inside the folder are uploaded as the file they point to.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable

from .exceptions import FileNotFoundInRun, NotFound
from .run_logging import clean_artifact_path
from .wire import CHUNK_BYTES, EVENT

if TYPE_CHECKING:  # pragma: no cover
    from ._run_parts import FilesHost as _Run   # what this part uses of Run
else:
    _Run = object

FLUSH_EVERY = 64 * 1024 * 1024


class FilesMixin(_Run):
    """The files of a Run (mixed into run.Run; uses of it what _run_parts.FilesHost lists)."""

    # ------------------------------------------------------------------ listing

    def get_file_names(self) -> list[str]:
        """Every file of the run: outputs, logs, image and JSON metric files ('/' paths)."""
        self._recorder().flush(300)
        return [f.path for f in self._client().list_files(self._id)]

    # ------------------------------------------------------------------ upload

    def upload_file(self, name: str, path_or_stream: str | os.PathLike | IO[bytes],
                    datastore_name: str | None = None) -> dict[str, Any]:
        """Store a local file (or a binary stream) as the run file `name`."""
        target = clean_artifact_path(name)
        size = self._queue_file(target, path_or_stream)
        self._recorder().flush(300)
        return {"name": target, "size": size}

    def upload_files(self, names: list[str], paths: list[str | os.PathLike],
                     return_artifacts: bool = False, timeout_seconds: float | None = None,
                     datastore_name: str | None = None) -> list[dict[str, Any]] | None:
        """Upload several files; `names` and `paths` must have the same length."""
        names, paths = list(names), list(paths)
        if len(names) != len(paths):
            raise TypeError(f"upload_files: names has {len(names)} entries but paths has {len(paths)}; "
                            "they must pair up one to one")
        targets = [clean_artifact_path(n) for n in names]
        done = [{"name": t, "size": self._queue_file(t, p)} for t, p in zip(targets, paths)]
        self._recorder().flush(timeout_seconds or 300)
        return done if return_artifacts else None

    def upload_folder(self, name: str, path: str | os.PathLike, datastore_name: str | None = None) -> list[str]:
        """Upload every file under `path` as `name/<relative path>`; returns the stored names."""
        folder = Path(path)
        if not folder.is_dir():
            raise NotADirectoryError(f"upload_folder: {str(path)!r} is not a folder")
        prefix = clean_artifact_path(name, "folder name")
        stored = self._queue_folder(prefix, folder)
        self._recorder().flush(300)
        return stored

    def _queue_folder(self, prefix: str, folder: Path, skip: dict[str, tuple[int, int]] | None = None) -> list[str]:
        """Queue every file under `folder` as `prefix/...`; a file in `skip` (target -> (size,
        mtime_ns) when it was uploaded) that has not changed since is not sent again."""
        stored = []
        files, outside = _walk_files(folder)
        for link, points_to in outside:
            self._recorder().warnings(
                f"upload_folder: skipped {link.relative_to(folder).as_posix()!r}: it is a symlink to "
                f"{points_to!r}, outside the folder {str(folder)!r}")
        for file in sorted(files):
            target = f"{prefix}/{file.relative_to(folder).as_posix()}"
            if skip and skip.get(target) == _stat_key(file):
                continue
            self._queue_file(target, file)
            stored.append(target)
        return stored

    def _queue_file(self, target: str, source: str | os.PathLike | IO[bytes]) -> int:
        """Queue one file's chunks, reading the source 1 MiB at a time; returns its size."""
        if isinstance(source, (str, os.PathLike)):
            if not os.path.isfile(source):
                raise FileNotFoundError(f"cannot upload {str(source)!r}: no such file")
            with open(source, "rb") as fh:
                return self._queue_stream(target, fh)
        if not hasattr(source, "read"):
            raise TypeError(f"path_or_stream must be a path or a binary stream, not {type(source).__name__}")
        return self._queue_stream(target, source)

    def _queue_stream(self, target: str, stream: IO[bytes]) -> int:
        offset, since_flush = 0, 0
        piece = _as_bytes(stream.read(CHUNK_BYTES), target)
        while True:
            following = _as_bytes(stream.read(CHUNK_BYTES), target) if len(piece) == CHUNK_BYTES else b""
            last = not following
            self._append((EVENT, self._id, "file", {"run_id": self._id, "path": target, "offset": offset,
                                                    "data": piece, "last": last}))
            offset += len(piece)
            since_flush += len(piece)
            if since_flush >= FLUSH_EVERY:
                self._recorder().flush(300)
                since_flush = 0
            if last:
                return offset
            piece = following

    # ------------------------------------------------------------------ download

    def download_file(self, name: str, output_file_path: str | os.PathLike | None = None,
                      _validate_checksum: bool = False) -> str:
        """Download a run file; by default to its base name in the current folder (a folder as
        `output_file_path` keeps the base name). Returns the local path."""
        target = clean_artifact_path(name)
        self._recorder().flush(300)
        dest = Path(output_file_path) if output_file_path is not None else Path(target.rsplit("/", 1)[-1])
        if dest.is_dir():
            dest = dest / target.rsplit("/", 1)[-1]
        self._download_to(target, dest)
        return str(dest)

    def download_files(self, prefix: str | None = None, output_directory: str | os.PathLike | None = None,
                       output_paths: list[str] | None = None, batch_size: int = 100,
                       append_prefix: bool = True, timeout_seconds: float | None = None) -> list[str]:
        """Download every run file under `prefix` (all without it) into `output_directory`
        (default: the current folder). With `append_prefix=False` the prefix is dropped from the
        local paths. Returns the local paths."""
        self._recorder().flush(timeout_seconds or 300)
        # a plain string prefix, as in Azure ML: "outputs/" or "outputs/mod"
        clean_prefix = _clean_prefix(prefix)
        names = [f.path for f in self._client().list_files(self._id, prefix=clean_prefix)
                 if f.path.startswith(clean_prefix)]
        if output_paths is not None and len(output_paths) != len(names):
            raise TypeError(f"download_files: output_paths has {len(output_paths)} entries but "
                            f"{len(names)} files match prefix {prefix!r}")
        base = Path(output_directory) if output_directory is not None else Path.cwd()
        written = []
        for i, name in enumerate(names):
            if output_paths is not None:
                dest = Path(output_paths[i])
            else:
                rel = name if append_prefix or not clean_prefix else _strip_prefix(name, clean_prefix)
                dest = base / rel
            self._download_to(name, dest)
            written.append(str(dest))
        return written

    def _download_to(self, name: str, dest: Path) -> None:
        download(self._client(), self._id, name, dest)


def download(client: Any, run_id: str, name: str, dest: Path,
             progress: Callable[[int], None] | None = None) -> int:
    """Write the run file `name` to `dest` (through a temporary file in the same folder, renamed
    at the end: never a half-written `dest`); `progress(nbytes)` after each chunk. Returns the size."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                for data in client.read_file(run_id, name):
                    out.write(data)
                    size += len(data)
                    if progress is not None:
                        progress(len(data))
            except NotFound as exc:
                raise FileNotFoundInRun(f"run {run_id} has no file {name!r}") from exc
        os.replace(tmp, dest)
        return size
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _stat_key(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _walk_files(folder: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """(regular files to upload, [(symlink, its target) that leads out of `folder`])."""
    real_folder = os.path.realpath(folder)
    inside, outside = [], []
    for root, dirs, files in os.walk(folder):  # symlinked folders are listed in dirs, not entered
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            path = Path(root) / name
            if path.is_symlink():
                target = os.path.realpath(path)
                if os.path.commonpath([real_folder, target]) != real_folder:
                    outside.append((path, target))
                    continue
            if path.is_file():
                inside.append(path)
    return inside, outside


def _clean_prefix(prefix: str | None) -> str:
    if not prefix:
        return ""
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
    prefix = prefix.replace("\\", "/")
    while prefix.startswith("./"):
        prefix = prefix[2:]
    if prefix.startswith("/") or ".." in prefix.split("/"):
        raise ValueError(f"invalid prefix {prefix!r}: use a relative run path such as 'outputs/'")
    return prefix


def _strip_prefix(name: str, prefix: str) -> str:
    rest = name[len(prefix):].lstrip("/")
    return rest or name.rsplit("/", 1)[-1]


def _as_bytes(data: Any, target: str) -> bytes:
    if isinstance(data, str):
        raise TypeError(f"upload of {target!r}: the stream is a text stream; open it in binary mode ('rb')")
    return bytes(data or b"")

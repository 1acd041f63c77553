"""A run's working folder: the unpacked snapshot. (Streaming its console and `logs/` and the upload
of `outputs/` are shared with the Slurm job bootstrap: tailrun._exec.files.)

<data_dir>/work/<run_id>/   the snapshot, the script's cwd; ./outputs is created before it starts
"""
from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path, PurePosixPath

from tailrun._exec.files import CHUNK_BYTES

from ..errors import InvalidArgument

MAX_SNAPSHOT_BYTES = 300 * 1024 * 1024
MAX_SNAPSHOT_FILES = 2000


def unpack_snapshot(snapshot: bytes, dest: Path) -> int:
    """Unzip a submitted snapshot into `dest` (which must not exist yet); returns the file count.

    The zip comes from a client, so every name is checked: relative, no '..', no links, within the
    same size and file-count limits the SDK applies."""
    dest.mkdir(parents=True, exist_ok=False)
    if not snapshot:
        return 0
    try:
        archive = zipfile.ZipFile(io.BytesIO(snapshot))
    except zipfile.BadZipFile as exc:
        raise InvalidArgument(f"the snapshot is not a valid zip file: {exc}") from None
    with archive:
        infos = archive.infolist()
        files = [i for i in infos if not i.is_dir()]
        if len(files) > MAX_SNAPSHOT_FILES:
            raise InvalidArgument(f"the snapshot has {len(files)} files, over the limit of {MAX_SNAPSHOT_FILES}")
        total = sum(i.file_size for i in files)
        if total > MAX_SNAPSHOT_BYTES:
            raise InvalidArgument(f"the snapshot unpacks to {total} bytes, over the limit of "
                                  f"{MAX_SNAPSHOT_BYTES // (1024 * 1024)} MB")
        for info in infos:
            target = dest / _safe_member(info)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(target, "wb") as out:
                while block := src.read(CHUNK_BYTES):
                    out.write(block)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(target, mode | stat.S_IRUSR | stat.S_IWUSR)
    return len(files)


def _safe_member(info: zipfile.ZipInfo) -> str:
    name = info.filename
    if "\\" in name or "\0" in name:
        raise InvalidArgument(f"snapshot entry {name!r} has a backslash or NUL in its name")
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("..", "") for part in name.rstrip("/").split("/")):
        raise InvalidArgument(f"snapshot entry {name!r} is not a plain relative path")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise InvalidArgument(f"snapshot entry {name!r} is a symbolic link")
    return str(path)

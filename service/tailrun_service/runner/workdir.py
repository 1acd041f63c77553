"""A run's working folder: the unpacked snapshot. (Streaming its console and `logs/` and the upload
of `outputs/` are shared with the Slurm job bootstrap: tailrun._exec.files.)

<data_dir>/work/<run_id>/   the snapshot, the script's cwd; ./outputs is created before it starts
"""
from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

from tailrun.wire import CHUNK_BYTES

from ..errors import InvalidArgument
from ..snapshots import check_archive, safe_member


def unpack_snapshot(snapshot: bytes, dest: Path) -> int:
    """Unzip a submitted snapshot into `dest` (which must not exist yet); returns the file count.

    The zip comes from a client, so every name is checked (see snapshots.check_archive)."""
    dest.mkdir(parents=True, exist_ok=False)
    if not snapshot:
        return 0
    try:
        archive = zipfile.ZipFile(io.BytesIO(snapshot))
    except zipfile.BadZipFile as exc:
        raise InvalidArgument(f"the snapshot is not a valid zip file: {exc}") from None
    with archive:
        infos = archive.infolist()
        files = check_archive(archive)
        for info in infos:
            target = dest / safe_member(info)
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

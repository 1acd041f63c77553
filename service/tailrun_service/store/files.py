"""Run files as the store sees them: listing, reading, and console text cut at UTF-8 boundaries.

Text never splits a multi-byte UTF-8 character: a piece that ends inside one stops before it,
and a piece that starts inside one starts at its first byte (so every character is returned by
exactly one of two consecutive pieces). Invalid bytes decode as U+FFFD.
"""
from __future__ import annotations

from sqlalchemy import select

from tailrun.v1 import tailrun_pb2 as pb

from ..artifacts import ArtifactStore, validate_path
from ..errors import NotFound
from .schema import files, runs

CONSOLE_PATHS = ("user_logs/std_log.txt", "logs/user_log.txt")  # submitted run, start_logging run


def _is_continuation(byte: int) -> bool:
    return byte & 0xC0 == 0x80


def complete_prefix(data: bytes) -> int:
    """Length of the longest prefix of `data` that does not end inside a UTF-8 character."""
    n = len(data)
    for back in range(1, min(4, n) + 1):
        byte = data[n - back]
        if _is_continuation(byte):
            continue
        need = 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4 if byte >> 3 == 0b11110 else 1
        return n - back if need > back else n
    return n


def char_start(read_back: bytes, offset: int) -> int:
    """Move `offset` back to the first byte of the character it falls in.

    `read_back` is the (up to 3) bytes just before `offset`."""
    back = 0
    while back < len(read_back) and _is_continuation(read_back[len(read_back) - 1 - back]):
        back += 1
    if back < len(read_back) and read_back[len(read_back) - 1 - back] >= 0xC0:
        return offset - back - 1
    return offset


def read_text(artifacts: ArtifactStore, run_id: str, path: str, start: int, end: int | None) -> pb.OutputText:
    """Text of bytes [start, end) of a run file (end None = to the end), at character boundaries.

    OutputText.offset is where the text starts; OutputText.size is where it ends, which is also
    where the next read should start (the file size, unless the file ends inside a character)."""
    with artifacts.open(run_id, path) as f:
        size = f.seek(0, 2)
        start = min(start, size)
        f.seek(max(0, start - 3))
        before = f.read(start - max(0, start - 3))
        start = char_start(before, start) if start else 0
        stop = size if end is None else min(end, size)
        f.seek(start)
        data = f.read(max(0, stop - start))
    data = data[:complete_prefix(data)]
    return pb.OutputText(path=path, offset=start, text=data.decode("utf-8", errors="replace"),
                         size=start + len(data))


def console_path(artifacts: ArtifactStore, run_id: str) -> str:
    for path in CONSOLE_PATHS:
        if artifacts.exists(run_id, path):
            return path
    return CONSOLE_PATHS[1]


def read_output(conn, artifacts: ArtifactStore, req: pb.ReadOutputRequest) -> pb.OutputText:
    if conn.execute(select(runs.c.run_id).where(runs.c.run_id == req.run_id)).first() is None:
        raise NotFound(f"run {req.run_id!r} not found")
    path = console_path(artifacts, req.run_id)
    st = artifacts.stat(req.run_id, path)
    if st is None:
        return pb.OutputText(path=path, offset=0, text="", size=0)
    start = req.offset
    if req.tail_bytes and not req.offset:
        start = max(0, st.st_size - req.tail_bytes)
        # A tail starts at a character boundary going forward, so it never exceeds tail_bytes.
        with artifacts.open(req.run_id, path) as f:
            f.seek(start)
            head = f.read(3)
        start += next((i for i, b in enumerate(head) if not _is_continuation(b)), len(head))
    return read_text(artifacts, req.run_id, path, start, None)


def list_files(conn, artifacts: ArtifactStore, run_id: str, prefix: str = "") -> list[pb.FileInfo]:
    """Files written through ingest (with their completeness), plus any other file on disk."""
    if conn.execute(select(runs.c.run_id).where(runs.c.run_id == run_id)).first() is None:
        raise NotFound(f"run {run_id!r} not found")
    known = {}
    query = select(files).where(files.c.run_id == run_id)
    for row in conn.execute(query):
        if row.path.startswith(prefix):
            known[row.path] = row
    result = []
    for path, st in artifacts.walk(run_id, prefix):
        row = known.get(path)
        result.append(pb.FileInfo(path=path, size=st.st_size, mtime=st.st_mtime,
                                  complete=bool(row.complete) if row is not None else True))
    return result


def file_info(conn, artifacts: ArtifactStore, run_id: str, path: str) -> pb.FileInfo:
    validate_path(path)
    row = conn.execute(select(files).where(files.c.run_id == run_id, files.c.path == path)).first()
    st = artifacts.stat(run_id, path)
    return pb.FileInfo(path=path, size=st.st_size if st else (row.size if row else 0),
                       mtime=st.st_mtime if st else (row.mtime if row else 0),
                       complete=bool(row.complete) if row is not None else st is not None)

"""Store: run files (offsets, completion, bad paths, symlinks) and console output (SQLite and PostgreSQL)."""
from __future__ import annotations

import os

import pytest
from storekit import Writer, file_chunk, make_store, start, store  # noqa: F401

from tailrun.v1 import tailrun_pb2 as pb
from tailrun_service.artifacts import ArtifactStore, validate_path
from tailrun_service.errors import InvalidArgument, NotFound


def test_chunks_at_offsets_build_the_file(store):
    w = Writer(store)
    w.send(start("r"), file_chunk("r", "outputs/model.bin", b"hello ", offset=0))
    info = {f.path: f for f in store.list_files("r")}["outputs/model.bin"]
    assert info.size == 6 and not info.complete
    w.send(file_chunk("r", "outputs/model.bin", b"world", offset=6, last=True),
           file_chunk("r", "outputs/model.bin", b"HELLO", offset=0))  # a re-sent chunk overwrites
    with store.open_file("r", "outputs/model.bin") as f:
        assert f.read() == b"HELLO world"
    w.send(file_chunk("r", "outputs/small.txt", b"abcdef"), file_chunk("r", "outputs/small.txt", b"xy", last=True))
    with store.open_file("r", "outputs/small.txt") as f:
        assert f.read() == b"xy"  # the last chunk ends the file
    w.send(file_chunk("r", "logs/empty.txt", b"", last=True), file_chunk("r", "a/b c/é.txt", b"1", last=True))
    files = store.list_files("r")
    assert [f.path for f in files] == ["a/b c/é.txt", "logs/empty.txt", "outputs/model.bin", "outputs/small.txt"]
    assert all(f.complete for f in files) and files[1].size == 0 and files[0].mtime > 0
    assert [f.path for f in store.list_files("r", prefix="outputs/")] == ["outputs/model.bin", "outputs/small.txt"]


def test_bad_paths_are_rejected_and_nothing_is_written(store, tmp_path):
    w = Writer(store)
    w.send(start("r"))
    bad = {"../x": "contains '..'", "a/../../x": "contains '..'", "/abs": "is absolute",
           "a\\b": "backslash", "a\0b": "NUL", "a//b": "empty component", "a/": "empty component",
           "./a": "contains '.'", "": "file path is empty"}
    result = w.send(*[file_chunk("r", p, b"x") for p in bad])
    assert len(result.rejected) == len(bad)
    for reason, expected in zip(result.rejected, bad.values()):
        assert expected in reason
    assert store.list_files("r") == []
    for path in ("../x", "/abs"):
        with pytest.raises(InvalidArgument):
            store.open_file("r", path)
    with pytest.raises(NotFound):
        store.open_file("r", "outputs/missing.txt")
    with pytest.raises(NotFound):
        store.open_file("ghost", "outputs/x")
    with pytest.raises(InvalidArgument):
        validate_path("x" * 2000)


def test_symlinks_out_of_the_run_folder_are_refused(store, tmp_path):
    w = Writer(store)
    w.send(start("r"), file_chunk("r", "outputs/ok.txt", b"ok", last=True))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    run_dir = store.artifacts.run_dir("r")
    os.symlink(outside, run_dir / "escape")
    os.symlink(outside / "secret.txt", run_dir / "outputs" / "link.txt")
    os.symlink(run_dir / "outputs" / "ok.txt", run_dir / "inside.txt")  # stays inside: fine
    result = w.send(file_chunk("r", "escape/new.txt", b"x"), file_chunk("r", "outputs/link.txt", b"x"))
    assert len(result.rejected) == 2 and all("symlink" in r for r in result.rejected)
    assert not (outside / "new.txt").exists() and (outside / "secret.txt").read_bytes() == b"secret"
    with pytest.raises(InvalidArgument, match="symlink"):
        store.open_file("r", "escape/secret.txt")
    with pytest.raises(InvalidArgument, match="symlink"):
        store.open_file("r", "outputs/link.txt")
    with store.open_file("r", "inside.txt") as f:
        assert f.read() == b"ok"
    assert [f.path for f in store.list_files("r")] == ["outputs/ok.txt"]  # links are not listed


def test_artifact_store_refuses_a_file_where_a_folder_is(tmp_path):
    artifacts = ArtifactStore(tmp_path)
    artifacts.write_chunk("r", "a", 0, b"1")
    with pytest.raises(InvalidArgument, match="clashes"):
        artifacts.write_chunk("r", "a/b", 0, b"1")
    with pytest.raises(InvalidArgument, match="run id"):
        artifacts.run_dir("../r")


def test_read_output_offsets_tail_and_utf8_boundaries(store):
    w = Writer(store)
    w.send(start("r"))
    empty = store.read_output(pb.ReadOutputRequest(run_id="r"))
    assert (empty.path, empty.text, empty.size) == ("logs/user_log.txt", "", 0)
    text = "épée ✓ line one\nsecond 🙂 line\n"
    data = text.encode()
    cut = data.index("🙂".encode()) + 2  # split the 4-byte emoji between two chunks
    w.send(file_chunk("r", "logs/user_log.txt", data[:cut], append=True))
    first = store.read_output(pb.ReadOutputRequest(run_id="r"))
    assert first.text == text[:text.index("🙂")] and first.offset == 0
    assert first.size == cut - 2  # stops before the partial character
    w.send(file_chunk("r", "logs/user_log.txt", data[cut:], offset=cut, append=True))
    rest = store.read_output(pb.ReadOutputRequest(run_id="r", offset=first.size))
    assert first.text + rest.text == text and rest.size == len(data)
    # tail_bytes starts at a character boundary going forward
    tail = store.read_output(pb.ReadOutputRequest(run_id="r", tail_bytes=len(" line\n".encode()) + 1))
    assert tail.text == " line\n" and tail.offset == len(data) - 6
    tail = store.read_output(pb.ReadOutputRequest(run_id="r", tail_bytes=8))
    assert tail.text == " line\n" and tail.size == len(data)
    # An offset inside a character moves back to its first byte.
    inside = store.read_output(pb.ReadOutputRequest(run_id="r", offset=1))
    assert inside.offset == 0 and inside.text == text
    # Invalid bytes are replaced, not fatal.
    w.send(file_chunk("r", "logs/user_log.txt", b"\xff\xfe ok\n", offset=len(data), append=True))
    assert store.read_output(pb.ReadOutputRequest(run_id="r", offset=len(data))).text == "\ufffd\ufffd ok\n"
    # A submitted run's console wins over logs/user_log.txt.
    w.send(file_chunk("r", "user_logs/std_log.txt", b"from the runner\n", append=True))
    out = store.read_output(pb.ReadOutputRequest(run_id="r"))
    assert (out.path, out.text) == ("user_logs/std_log.txt", "from the runner\n")
    with pytest.raises(NotFound):
        store.read_output(pb.ReadOutputRequest(run_id="ghost"))

"""The files API against a real service: bytes go up through the queue and come back identical."""
from __future__ import annotations

import io
import os

import pytest

from api_helpers import start
from tailrun.exceptions import FileNotFoundInRun


def test_upload_and_download_one_file(ws, tmp_path, monkeypatch):
    data = os.urandom(3 * 1024 * 1024 + 17)  # several 1 MiB chunks and a partial one
    src = tmp_path / "model.bin"
    src.write_bytes(data)
    run = start(ws)
    run.upload_file("outputs/model.bin", str(src))
    run.upload_file("empty.txt", io.BytesIO(b""))
    run.upload_file("stream.txt", io.BytesIO(b"from a stream"))
    assert set(run.get_file_names()) == {"outputs/model.bin", "empty.txt", "stream.txt"}

    monkeypatch.chdir(tmp_path)
    (tmp_path / "down").mkdir()
    assert run.download_file("outputs/model.bin") == "model.bin"          # base name in the cwd
    assert (tmp_path / "model.bin").read_bytes() == data
    assert run.download_file("stream.txt", "down") == os.path.join("down", "stream.txt")  # a folder
    assert (tmp_path / "down" / "stream.txt").read_bytes() == b"from a stream"
    run.download_file("empty.txt", str(tmp_path / "deep" / "e.txt"))
    assert (tmp_path / "deep" / "e.txt").read_bytes() == b""


def test_folders_and_prefixes(ws, tmp_path):
    src = tmp_path / "results"
    (src / "sub" / "deeper").mkdir(parents=True)
    files = {"a.txt": b"A", "sub/b.txt": b"B" * 5000, "sub/deeper/c.bin": bytes(range(256))}
    for rel, content in files.items():
        (src / rel).write_bytes(content)
    run = start(ws)
    stored = run.upload_folder("results", str(src))
    assert stored == sorted(f"results/{rel}" for rel in files)
    run.upload_files(["other/x.txt", "other/y.txt"], [str(src / "a.txt"), str(src / "sub" / "b.txt")])

    out = tmp_path / "out"
    got = run.download_files(prefix="results/sub", output_directory=str(out))
    assert sorted(got) == sorted(str(out / "results" / rel) for rel in ("sub/b.txt", "sub/deeper/c.bin"))
    assert (out / "results" / "sub" / "deeper" / "c.bin").read_bytes() == bytes(range(256))

    flat = tmp_path / "flat"
    run.download_files(prefix="results/", output_directory=str(flat), append_prefix=False)
    for rel, content in files.items():
        assert (flat / rel).read_bytes() == content

    everything = tmp_path / "all"
    assert len(run.download_files(output_directory=str(everything))) == 5
    assert (everything / "other" / "y.txt").read_bytes() == b"B" * 5000


def test_outputs_folder_is_uploaded_on_complete(ws, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = start(ws, outputs=None)         # None means ./outputs, created at once
    assert (tmp_path / "outputs").is_dir()
    (tmp_path / "outputs" / "my_data.csv").write_text("a,b\n1,2\n")
    (tmp_path / "outputs" / "nested").mkdir()
    (tmp_path / "outputs" / "nested" / "w.bin").write_bytes(b"\x00\x01")
    assert run.get_file_names() == []     # not streamed: uploaded at the end
    run.complete()
    assert set(run.get_file_names()) == {"outputs/my_data.csv", "outputs/nested/w.bin"}

    custom = start(ws, outputs="artifacts")
    (tmp_path / "artifacts" / "f.txt").write_text("x")
    custom.fail("stopped")
    assert custom.get_file_names() == ["artifacts/f.txt"]
    assert custom.get_status() == "Failed"


def test_file_errors(ws, tmp_path):
    run = start(ws)
    with pytest.raises(TypeError, match="names has 2 entries but paths has 1"):
        run.upload_files(["a", "b"], [str(tmp_path)])
    with pytest.raises(FileNotFoundError, match="no such file"):
        run.upload_file("x", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="invalid file name '../escape'"):
        run.upload_file("../escape", io.BytesIO(b"x"))
    with pytest.raises(ValueError, match="invalid file name '/abs'"):
        run.upload_file("/abs", io.BytesIO(b"x"))
    with pytest.raises(TypeError, match="text stream; open it in binary mode"):
        run.upload_file("t.txt", io.StringIO("text"))
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        run.upload_folder("f", str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundInRun, match="has no file 'missing.txt'"):
        run.download_file("missing.txt", str(tmp_path / "m.txt"))
    assert not (tmp_path / "m.txt").exists()

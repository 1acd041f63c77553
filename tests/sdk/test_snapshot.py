"""The snapshot of a source folder honours `.gitignore`, `.amlignore` and `.tailrunignore`: each
one present adds its rules, in that order (the last matching rule wins)."""
from __future__ import annotations

import zipfile
from pathlib import Path

from tailrun._snapshot import build_snapshot


def make(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def snapshot_names(root: Path) -> list[str]:
    with build_snapshot(root) as f, zipfile.ZipFile(f) as zf:
        return sorted(zf.namelist())


BASE = {"train.py": "", "model.ckpt": "w", "data/a.csv": "1", "logs/x.log": "l", "keep.log": "k"}


def test_amlignore_adds_to_gitignore(tmp_path):
    root = make(tmp_path, {**BASE, ".gitignore": "*.ckpt\n", ".amlignore": "data/\n"})
    assert snapshot_names(root) == [".amlignore", ".gitignore", "keep.log", "logs/x.log", "train.py"]


def test_amlignore_alone_and_with_tailrunignore(tmp_path):
    root = make(tmp_path / "a", {**BASE, ".amlignore": "data/\n*.ckpt\n"})
    assert snapshot_names(root) == [".amlignore", "keep.log", "logs/x.log", "train.py"]
    # .amlignore is honoured like .tailrunignore: with both, both apply
    root = make(tmp_path / "b", {**BASE, ".amlignore": "data/\n", ".tailrunignore": "logs/\n"})
    assert snapshot_names(root) == [".amlignore", ".tailrunignore", "keep.log", "model.ckpt", "train.py"]


def test_a_later_file_can_reinclude(tmp_path):
    root = make(tmp_path, {**BASE, ".gitignore": "*.log\n", ".amlignore": "!keep.log\n"})
    assert snapshot_names(root) == [".amlignore", ".gitignore", "data/a.csv", "keep.log", "model.ckpt",
                                    "train.py"]

"""The snapshot of a source folder honours `.gitignore`, `.amlignore` and `.tailrunignore`: each
one present adds its rules, in that order (the last matching rule wins)."""
from __future__ import annotations

import zipfile
from pathlib import Path

from file_tree import write_tree
from tailrun._snapshot import build_snapshot


def snapshot_names(root: Path) -> list[str]:
    with build_snapshot(root) as f, zipfile.ZipFile(f) as zf:
        return sorted(zf.namelist())


BASE = {"train.py": "", "model.ckpt": "w", "data/a.csv": "1", "logs/x.log": "l", "keep.log": "k"}


def test_amlignore_adds_to_gitignore(tmp_path):
    root = write_tree(tmp_path, {**BASE, ".gitignore": "*.ckpt\n", ".amlignore": "data/\n"})
    assert snapshot_names(root) == [".amlignore", ".gitignore", "keep.log", "logs/x.log", "train.py"]


def test_amlignore_alone_and_with_tailrunignore(tmp_path):
    root = write_tree(tmp_path / "a", {**BASE, ".amlignore": "data/\n*.ckpt\n"})
    assert snapshot_names(root) == [".amlignore", "keep.log", "logs/x.log", "train.py"]
    # .amlignore is honoured like .tailrunignore: with both, both apply
    root = write_tree(tmp_path / "b", {**BASE, ".amlignore": "data/\n", ".tailrunignore": "logs/\n"})
    assert snapshot_names(root) == [".amlignore", ".tailrunignore", "keep.log", "model.ckpt", "train.py"]


def test_a_later_file_can_reinclude(tmp_path):
    root = write_tree(tmp_path, {**BASE, ".gitignore": "*.log\n", ".amlignore": "!keep.log\n"})
    assert snapshot_names(root) == [".amlignore", ".gitignore", "data/a.csv", "keep.log", "model.ckpt",
                                    "train.py"]

"""Fixtures of the pipeline tests: folders of step scripts (workspace_of is in tests/conftest.py). Helpers and
the step scripts are in pipeline_helpers.py (a unique module name: `conftest` is ambiguous when
several test folders run together)."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Callable

import pytest

@pytest.fixture
def folder(tmp_path: Path) -> Callable[..., Path]:
    """`folder("name", {"a.py": code})` writes dedented files into tmp_path/name and returns it."""

    def make(name: str, files: dict[str, str]) -> Path:
        root = tmp_path / name
        root.mkdir(exist_ok=True)
        for file, text in files.items():
            (root / file).write_text(textwrap.dedent(text))
        return root

    return make

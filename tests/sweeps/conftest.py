"""Fixtures of the sweep and orchestration tests (the helpers are in sweepkit.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from recorder_reset import reset_recorder


@pytest.fixture
def workspace_of() -> Iterator[Callable[[Any], Any]]:
    """`workspace_of(service)`: a Workspace on that service, with a fresh recorder."""
    from tailrun import Workspace

    def make(service: Any) -> Any:
        reset_recorder()
        return Workspace(address=service.address, token=service.token)

    yield make
    reset_recorder()


@pytest.fixture
def source_dir(tmp_path: Path) -> Callable[..., Path]:
    """`source_dir({"train.py": "..."})` writes the files into a fresh folder and returns it."""
    count = 0

    def make(files: dict[str, str]) -> Path:
        nonlocal count
        count += 1
        root = tmp_path / f"src{count}"
        root.mkdir()
        for name, text in files.items():
            (root / name).write_text(text)
        return root

    return make

"""What the framework integration tests share: a run's stored metric series as (step, value) pairs
to compare with what the framework reported, and the ImportError a real interpreter shows when a
framework cannot be imported."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

from tailrun import Run


def stored_series(ws: Any, run_id: str, name: str) -> list[tuple[int | None, Any]]:
    """The metric `name` of the run as the service stored it: (step, value) in logged order."""
    return [(step, value) for step, value, _ in Run.get(ws, run_id).get_metric_series(name)]


def import_failure(blocked: str, module: str, env: dict[str, str] | None = None,
                   timeout: float = 60) -> subprocess.CompletedProcess:
    """Import `module` in a real interpreter in which `blocked` cannot be imported (a None entry in
    sys.modules blocks it); its stdout is the ImportError's message."""
    code = textwrap.dedent(f"""
        import sys
        sys.modules[{blocked!r}] = None
        try:
            import {module}
        except ImportError as exc:
            print(exc)
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          env=env)

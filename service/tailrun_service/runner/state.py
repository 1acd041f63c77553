"""What the runner remembers about a run on disk, so a restarted service can pick it up again.

<data_dir>/runs/<run_id>/state.json   run id, experiment, run definition, pid and start ticks
<data_dir>/runs/<run_id>/console.txt  the script's stdout+stderr (tailed into user_logs/std_log.txt)
<data_dir>/runs/<run_id>/exit_code    written by the wrapper shell when the script ends
<data_dir>/runs/<run_id>/home/        TAILRUN_HOME of the script (its SDK spool), unless `home_dir`
                                      names another place (scripts run as another user, isolation.py)
The state file is removed once the run has its final status.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunState:
    run_id: str
    experiment: str
    definition: dict[str, Any]
    work_dir: str
    state_dir: str
    pid: int = 0                 # the wrapper shell = the process group leader; 0 = not started
    start_ticks: int | None = None
    started_at: float = 0.0      # unix time the script started (for the time limit)
    home_dir: str = ""           # TAILRUN_HOME of the script; "" = <state_dir>/home
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return Path(self.state_dir)

    @property
    def console(self) -> Path:
        return self.folder / "console.txt"

    @property
    def exit_file(self) -> Path:
        return self.folder / "exit_code"

    @property
    def home(self) -> Path:
        return Path(self.home_dir) if self.home_dir else self.folder / "home"

    def save(self) -> None:
        path = self.folder / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self)))
        os.replace(tmp, path)

    def forget(self) -> None:
        """The run is final: drop what only recovery needed."""
        for name in ("state.json", "exit_code", "console.txt"):
            try:
                (self.folder / name).unlink()
            except FileNotFoundError:
                pass

    def exit_code(self) -> int | None:
        try:
            return int(self.exit_file.read_text().strip())
        except (OSError, ValueError):
            return None

    @classmethod
    def load(cls, path: Path) -> "RunState":
        return cls(**json.loads(path.read_text()))


def saved_states(runs_dir: Path) -> list[RunState]:
    """Every run a previous service left without a final status (unreadable files are skipped)."""
    states = []
    for path in sorted(runs_dir.glob("*/state.json")):
        try:
            states.append(RunState.load(path))
        except (OSError, ValueError, TypeError):
            continue
    return states

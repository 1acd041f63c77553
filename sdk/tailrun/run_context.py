"""`Run.get_context()`: the run a script runs in.

Inside a submitted run (TAILRUN_RUN_ID and TAILRUN_EXPERIMENT set by the runner) it is that run,
one cached object per run id, whose status belongs to the service: its `complete()`/`fail()`
flush (the runner uploads `outputs/` when the script exits and sets the status from the exit
code); `fail()` and `cancel()` are final (the run ends Failed with that error, or Canceled, whatever
the exit code; Azure ML's `cancel()` there only warns). Outside, tailrun differs from
Azure ML on purpose: instead of an offline run that only prints, the script gets a run that
records (like `start_logging`) in an experiment named after the script's file stem.
"""
from __future__ import annotations

import os
import re
import sys
import threading
from pathlib import Path

from . import _status
from ._settings import ENV_EXPERIMENT, ENV_RUN_ID
from .exceptions import RunEnvironmentException
from .run import Run

_context_lock = threading.Lock()
_context_runs: dict[str, Run] = {}   # run id -> run; "" = the recording standalone run


def get_context(allow_offline: bool = True) -> Run:
    run_id, experiment = os.environ.get(ENV_RUN_ID), os.environ.get(ENV_EXPERIMENT)
    from .experiment import Experiment
    from .workspace import Workspace
    with _context_lock:
        if run_id and experiment:
            run = _context_runs.get(run_id)
            if run is None:
                run = Run._attach(Experiment._attach(Workspace(), experiment), run_id)
                run._submitted, run._status = True, _status.RUNNING
                _context_runs[run_id] = run
            return run
        if not allow_offline:
            raise RunEnvironmentException(
                "Run.get_context(allow_offline=False): this script is not running as a submitted "
                f"run ({ENV_RUN_ID} and {ENV_EXPERIMENT} are not set); submit it with "
                "Experiment.submit() or `tailrun submit`, or use allow_offline=True")
        run = _context_runs.get("")
        if run is None or run._finished:
            name = script_experiment_name()
            run = Run._start(Experiment(Workspace.from_config(), name), run_type="interactive", console=True)
            print(f"tailrun: not a submitted run; recording to experiment {name!r} as run {run.id}",
                  file=sys.stderr)
            _context_runs[""] = run
        return run


def script_experiment_name() -> str:
    """The experiment a standalone `Run.get_context()` records to: the script's file stem."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c") else "")
    stem = Path(path).stem if path else ("notebook" if "ipykernel" in sys.modules else "interactive")
    stem = re.sub(r"[^A-Za-z0-9_\-. ]", "_", stem).strip(" ")
    stem = re.sub(r"^[^A-Za-z0-9]+", "", stem)[:255].rstrip(" ")
    return stem or "interactive"

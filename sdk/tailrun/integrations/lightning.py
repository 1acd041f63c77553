"""PyTorch Lightning: `TailrunLogger`, a `lightning.pytorch.loggers.Logger` (`pip install 'tailrun[lightning]'`).

    trainer = Trainer(logger=TailrunLogger(experiment_name="mnist", log_model=True))

Metrics go to `run.log(name, value, step=trainer step)`, `log_hyperparams` (and so
`save_hyperparameters()`) to run properties (nested keys flattened with "/", values `str()`),
checkpoints to the run files `outputs/checkpoints/<file name>`. Only rank 0 logs.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import LazyRun, add_params, require, scalar

require("lightning.pytorch", "lightning")
from lightning.pytorch.loggers import Logger  # noqa: E402
from lightning.pytorch.loggers.logger import rank_zero_experiment  # noqa: E402
from lightning.pytorch.utilities.rank_zero import rank_zero_only  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    from ..run import Run

CHECKPOINT_FOLDER = "outputs/checkpoints"


class TailrunLogger(Logger):
    """Log a Lightning run to tailrun.

    `run`: log to this run (you finish it). Otherwise, with `experiment_name` or `workspace`, a
    new run is started on first use and finished by `finalize`: Completed on success, Failed
    with the exception on an error, Canceled on Ctrl-C. With neither, `Run.get_context()`.

    `log_model`: False (default) uploads no checkpoint; True uploads the checkpoints that
    `ModelCheckpoint` keeps (best k and last) when training ends; "all" uploads each one as
    soon as it is saved. `prefix` is put before every metric name (joined with "-", as in
    Lightning's own loggers).
    """

    LOGGER_JOIN_CHAR = "-"

    def __init__(self, run: "Run | None" = None, experiment_name: str | None = None,
                 workspace: Any = None, log_model: bool | str = False, prefix: str = "") -> None:
        super().__init__()
        if log_model not in (False, True, "all"):
            raise ValueError(f"log_model must be False, True or 'all', not {log_model!r}")
        self._target = LazyRun(run, experiment_name, workspace)
        self._log_model = log_model
        self._prefix = prefix
        self._checkpoint_callback: Any = None
        self._uploaded: dict[str, float] = {}   # checkpoint path -> mtime uploaded
        self._unstepped: dict[str, int] = {}    # metric -> next step, for calls without a step

    # ------------------------------------------------------------------ identity

    @property
    @rank_zero_experiment
    def experiment(self) -> "Run":
        """The tailrun Run (started on first use when the logger starts its own)."""
        return self._target.get()

    @property
    def run(self) -> "Run":
        return self.experiment

    @property
    def name(self) -> str:
        """The experiment name (Lightning puts checkpoints under save_dir/name/version)."""
        if rank_zero_only.rank > 0:
            return self._target.experiment_name or "tailrun"
        return self.experiment.experiment.name

    @property
    def version(self) -> str | None:
        """The run id."""
        if rank_zero_only.rank > 0:
            return None
        return self.experiment.id

    # ------------------------------------------------------------------ logging

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        add_params(self.experiment, params)

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        run = self.experiment
        for key, value in metrics.items():
            number = scalar(value)
            if number is None:
                continue   # Lightning only hands numbers over; anything else is not a metric
            name = f"{self._prefix}{self.LOGGER_JOIN_CHAR}{key}" if self._prefix else key
            if step is None:   # a step keeps every value of a name on one x axis
                at = self._unstepped.get(name, 0)
                self._unstepped[name] = at + 1
            else:
                at = int(step)
            run.log(name, number, step=at)

    # ------------------------------------------------------------------ checkpoints

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if self._log_model == "all":
            self._upload_checkpoints(checkpoint_callback)
        elif self._log_model:
            self._checkpoint_callback = checkpoint_callback

    @rank_zero_only
    def _upload_checkpoints(self, checkpoint_callback: Any) -> None:
        from lightning.pytorch.loggers.utilities import _scan_checkpoints
        run = self.experiment
        for mtime, path, _score, _tag in _scan_checkpoints(checkpoint_callback, self._uploaded):
            run.upload_file(f"{CHECKPOINT_FOLDER}/{Path(path).name}", path)
            self._uploaded[path] = mtime

    # ------------------------------------------------------------------ the end

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """Called by Lightning after fit/validate/test ("success") or on an error ("failed")."""
        if self._target.resolved is None:
            return   # never used: nothing to finish
        if self._checkpoint_callback is not None:
            self._upload_checkpoints(self._checkpoint_callback)
        run = self._target.resolved
        if not self._target.owned:
            run.flush()
        elif status == "failed":
            error = sys.exc_info()[1]   # Lightning calls this while handling the exception
            if isinstance(error, KeyboardInterrupt):
                run.cancel()
            else:
                run.fail(error or "Lightning reported the training failed")
        else:
            run.complete()

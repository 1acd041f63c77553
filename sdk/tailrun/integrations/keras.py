"""Keras 3: `TailrunCallback`, a `keras.callbacks.Callback` (`pip install 'tailrun[keras]'`).

    model.fit(x, y, epochs=10, callbacks=[TailrunCallback()])

Epoch metrics keep Keras' names (`loss`, `val_loss`, `accuracy`, ... as in `History`) with
step = the epoch index; batch metrics are `batch/<name>` with step = the batch index counted
across epochs (Keras' batch values are running means over the epoch so far). The fit
parameters (`epochs`, `steps`, `verbose`) and the compile configuration (`optimizer` and
`optimizer/<setting>`, `loss`, `metrics`, ...) become run properties when training begins.
tailrun[keras] installs the PyTorch backend: set KERAS_BACKEND=torch before importing keras.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._common import LazyRun, add_params, require, scalar

require("keras", "keras", hint=" (and set KERAS_BACKEND=torch, the backend that extra installs)")
from keras.callbacks import Callback  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    from ..run import Run

BATCH_PREFIX = "batch/"


class TailrunCallback(Callback):
    """Log a Keras `fit` to tailrun.

    `run`: log to this run (you finish it). Otherwise, with `experiment_name` or `workspace`, a
    new run is started when training begins and completed when it ends. With neither,
    `Run.get_context()`. `log_every_n_batches`: batch metrics every N batches (1: each batch;
    0: epoch metrics only).
    """

    def __init__(self, run: "Run | None" = None, log_every_n_batches: int = 1,
                 experiment_name: str | None = None, workspace: Any = None) -> None:
        super().__init__()
        if type(log_every_n_batches) is not int or log_every_n_batches < 0:
            raise ValueError(f"log_every_n_batches must be an int >= 0 (0 logs epochs only), "
                             f"not {log_every_n_batches!r}")
        self._target = LazyRun(run, experiment_name, workspace)
        self.log_every_n_batches = log_every_n_batches
        self._batches = 0   # batches seen across epochs: the step of batch metrics

    @property
    def run(self) -> "Run":
        """The tailrun Run (started on first use when the callback starts its own)."""
        return self._target.get()

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        add_params(self.run, {**(self.params or {}), **_compile_params(self.model)})

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        step = self._batches
        self._batches += 1
        every = self.log_every_n_batches
        if every and step % every == 0 and logs:
            _log_all(self.run, logs, step, BATCH_PREFIX)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs:
            _log_all(self.run, logs, int(epoch))

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._target.owned:
            self.run.complete()
        else:
            self.run.flush()


def _log_all(run: "Run", logs: dict[str, Any], step: int, prefix: str = "") -> None:
    for name, value in logs.items():
        number = scalar(value)
        if number is not None:
            run.log(f"{prefix}{name}", number, step=step)


def _compile_params(model: Any) -> dict[str, Any]:
    """`optimizer` (its class), `optimizer/<setting>`, and the rest of `compile()`'s arguments."""
    if model is None or getattr(model, "optimizer", None) is None:
        return {}
    try:
        config = dict(model.get_compile_config() or {})
    except Exception:  # a custom loss or metric that does not serialise: keep what is plain
        config = {}
    optimizer = model.optimizer
    config.pop("optimizer", None)
    params: dict[str, Any] = {"optimizer": type(optimizer).__name__}
    try:
        settings = optimizer.get_config()
    except Exception:
        settings = {}
    params.update({f"optimizer/{key}": value for key, value in settings.items() if key != "name"})
    params.update(config)
    return params

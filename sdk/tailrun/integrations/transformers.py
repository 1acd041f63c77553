"""Hugging Face Transformers: `TailrunCallback`, a `TrainerCallback` (`pip install 'tailrun[transformers]'`).

    trainer = Trainer(..., callbacks=[TailrunCallback()])

Everything the Trainer logs (`loss`, `grad_norm`, `learning_rate`, `epoch`, `eval_*`, the final
`train_runtime`, ...) is logged with step = `state.global_step`; the `TrainingArguments`
(`args.to_dict()`: every field, tokens masked by Transformers, nested settings flattened with
"/", values `str()`) become run properties when training begins. Only the main process logs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._common import LazyRun, add_params, require, scalar

require("transformers", "transformers")
from transformers import TrainerCallback  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    from ..run import Run


class TailrunCallback(TrainerCallback):
    """Log a Transformers `Trainer` to tailrun.

    `run`: log to this run (you finish it). Otherwise, with `experiment_name` or `workspace`, a
    new run is started when training begins and completed when it ends. With neither,
    `Run.get_context()`.
    """

    def __init__(self, run: "Run | None" = None, experiment_name: str | None = None,
                 workspace: Any = None) -> None:
        self._target = LazyRun(run, experiment_name, workspace)

    @property
    def run(self) -> "Run":
        """The tailrun Run (started on first use when the callback starts its own)."""
        return self._target.get()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            add_params(self.run, args.to_dict())

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        run, step = self.run, int(state.global_step)
        for name, value in logs.items():
            number = scalar(value)
            if number is not None:   # the Trainer also logs strings now and then: not metrics
                run.log(name, number, step=step)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero or self._target.resolved is None:
            return
        if self._target.owned:
            self._target.resolved.complete()
        else:
            self._target.resolved.flush()

"""TailrunCallback with real Keras 3 on the PyTorch backend: a tiny dense model fitted on CPU to
data made here, through a real service. Stored values are compared with Keras' own History
(epochs) and with what a second plain callback saw (batches)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ["KERAS_BACKEND"] = "torch"   # before keras is imported: tailrun[keras] installs torch
pytest.importorskip("keras", reason="the keras extra is not installed")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from integration_kit import import_failure, stored_series  # noqa: E402
from tailrun import Experiment, Run  # noqa: E402
from tailrun.integrations.keras import TailrunCallback  # noqa: E402


class BatchLogs(keras.callbacks.Callback):
    """Every batch's logs as Keras hands them to callbacks (a plain second callback)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, float]] = []

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.seen.append(dict(logs or {}))


def _model() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    return model


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 4)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_epoch_and_batch_metrics_and_fit_parameters(ws: Any) -> None:
    assert keras.backend.backend() == "torch"
    callback = TailrunCallback(experiment_name="keras-tiny", workspace=ws, log_every_n_batches=2)
    batches = BatchLogs()
    x, y = _data()
    history = _model().fit(x, y, epochs=3, batch_size=8, validation_split=0.2, verbose=0,
                           callbacks=[callback, batches])
    run = Run.get(ws, callback.run.id)
    assert run.get_status() == "Completed"   # the callback started it, so it completes it

    # epoch metrics: exactly History's values, step = epoch
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    for name, values in history.history.items():
        assert stored_series(ws, run.id, name) == list(enumerate(values)), name
    # batch metrics: 4 batches an epoch (32 training rows / 8), global index, every 2nd one
    assert len(batches.seen) == 12
    for name in ("loss", "mae"):
        expected = [(i, logs[name]) for i, logs in enumerate(batches.seen) if i % 2 == 0]
        assert stored_series(ws, run.id, f"batch/{name}") == expected

    props = run.get_properties()
    assert {k: props[k] for k in ("epochs", "steps", "optimizer", "optimizer/learning_rate",
                                  "optimizer/beta_1", "loss", "metrics")} == {
        "epochs": "3", "steps": "4", "optimizer": "Adam",
        "optimizer/learning_rate": str(np.float32(0.01).item()), "optimizer/beta_1": "0.9",
        "loss": "mse", "metrics": "['mae']"}


def test_epochs_only_into_a_run_passed_in_which_stays_open(ws: Any) -> None:
    mine = Experiment(ws, "keras-mine").start_logging()
    x, y = _data()
    history = _model().fit(x, y, epochs=2, batch_size=8, verbose=0,
                           callbacks=[TailrunCallback(run=mine, log_every_n_batches=0)])
    assert stored_series(ws, mine.id, "loss") == list(enumerate(history.history["loss"]))
    assert not [m for m in Run.get(ws, mine.id).get_metrics() if m.startswith("batch/")]
    assert Run.get(ws, mine.id).get_status() == "Running"
    mine.complete()


def test_bad_arguments_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="log_every_n_batches must be an int >= 0"):
        TailrunCallback(log_every_n_batches=-1)
    with pytest.raises(TypeError, match="run must be a tailrun Run"):
        TailrunCallback(run=object())


def test_without_keras_the_error_names_the_extra(tmp_path: Path) -> None:
    done = import_failure("keras", "tailrun.integrations.keras")
    assert "pip install 'tailrun[keras]'" in done.stdout, done.stderr
    assert "the 'keras' package is not installed" in done.stdout


def test_keras_without_its_backend_says_which_setting_to_use(tmp_path: Path) -> None:
    # keras' default backend is TensorFlow, which the extra does not install
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["KERAS_HOME"] = str(tmp_path)   # no keras.json choosing a backend
    done = import_failure("tensorflow", "tailrun.integrations.keras", env=env, timeout=120)
    assert "'keras' is installed but importing it failed" in done.stdout, done.stdout + done.stderr
    assert "KERAS_BACKEND=torch" in done.stdout

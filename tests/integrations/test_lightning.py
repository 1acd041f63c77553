"""TailrunLogger with real PyTorch Lightning: a tiny regression model trained on CPU, data made
here, through a real service. What Lightning hands its loggers is recorded by a second, plain
Logger beside ours, so the stored metrics are compared with exactly what Lightning reported."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("lightning", reason="the lightning extra is not installed")

import lightning.pytorch as pl  # noqa: E402
import torch  # noqa: E402
from lightning.pytorch.callbacks import ModelCheckpoint  # noqa: E402
from lightning.pytorch.loggers import Logger  # noqa: E402

from integration_kit import import_failure, stored_series  # noqa: E402
from tailrun import Experiment, Run  # noqa: E402
from tailrun.integrations.lightning import TailrunLogger  # noqa: E402


class Recorded(Logger):
    """What Lightning gives every logger, kept in a list (a plain second logger, not a fake)."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: list[tuple[int | None, dict[str, float]]] = []
        self.hparams: list[Any] = []

    name = "recorded"
    version = "0"

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.metrics.append((step, dict(metrics)))

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        self.hparams.append(params)


class TinyRegression(pl.LightningModule):
    def __init__(self, hidden: int = 8, lr: float = 0.05, optim: dict | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1))
        self.losses: list[float] = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.losses.append(loss.item())
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def _loaders() -> tuple[Any, Any]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=gen)
    y = x.sum(dim=1, keepdim=True) + 0.1 * torch.randn(64, 1, generator=gen)
    data = torch.utils.data.TensorDataset(x, y)
    return (torch.utils.data.DataLoader(data, batch_size=8),
            torch.utils.data.DataLoader(data, batch_size=32))


def _trainer(tmp_path: Path, loggers: list[Any], **kwargs: Any) -> pl.Trainer:
    kwargs.setdefault("max_epochs", 2)
    return pl.Trainer(logger=loggers, log_every_n_steps=1, accelerator="cpu",
                      enable_progress_bar=False, enable_model_summary=False,
                      default_root_dir=str(tmp_path), **kwargs)


def test_metrics_hyperparameters_checkpoints_and_completion(ws: Any, tmp_path: Path) -> None:
    torch.manual_seed(0)
    logger = TailrunLogger(experiment_name="lightning-tiny", workspace=ws, log_model=True)
    recorded = Recorded()
    model = TinyRegression(hidden=8, lr=0.05, optim={"name": "sgd", "nesterov": False})
    checkpoints = ModelCheckpoint(monitor="val_loss", save_top_k=1, save_last=True)
    train, val = _loaders()
    _trainer(tmp_path, [logger, recorded], callbacks=[checkpoints]).fit(model, train, val)

    run = Run.get(ws, logger.version)
    assert run.experiment.name == "lightning-tiny" == logger.name
    assert run.get_status() == "Completed"   # the logger started it, so finalize completed it

    # every value Lightning reported, with its step, exactly
    expected: dict[str, list[tuple[int | None, float]]] = {}
    for step, metrics in recorded.metrics:
        for name, value in metrics.items():
            expected.setdefault(name, []).append((step, value))
    assert set(expected) == {"train_loss", "val_loss", "epoch"}
    for name, points in expected.items():
        assert stored_series(ws, run.id, name) == points, name
    # and those are the model's own losses: 8 batches x 2 epochs, one point per optimizer step
    assert [v for _, v in expected["train_loss"]] == pytest.approx(model.losses, rel=0, abs=0)
    assert [s for s, _ in expected["train_loss"]] == list(range(16))

    props = run.get_properties()
    assert {k: props[k] for k in ("hidden", "lr", "optim/name", "optim/nesterov")} == {
        "hidden": "8", "lr": "0.05", "optim/name": "sgd", "optim/nesterov": "False"}

    files = set(run.get_file_names())
    kept = {Path(checkpoints.best_model_path).name, Path(checkpoints.last_model_path).name}
    assert {f"outputs/checkpoints/{name}" for name in kept} <= files
    best = Path(checkpoints.best_model_path)
    download = tmp_path / "best.ckpt"
    run.download_file(f"outputs/checkpoints/{best.name}", str(download))
    assert download.read_bytes() == best.read_bytes()


def test_a_run_passed_in_is_logged_to_but_left_open(ws: Any, tmp_path: Path) -> None:
    mine = Experiment(ws, "lightning-mine").start_logging()
    logger = TailrunLogger(run=mine)
    train, val = _loaders()
    _trainer(tmp_path, [logger], max_epochs=1).fit(TinyRegression(), train, val)
    assert logger.version == mine.id
    assert Run.get(ws, mine.id).get_status() == "Running"
    assert len(stored_series(ws, mine.id, "train_loss")) == 8
    mine.complete()
    assert Run.get(ws, mine.id).get_status() == "Completed"


def test_log_model_all_uploads_each_checkpoint_as_it_is_saved(ws: Any, tmp_path: Path) -> None:
    logger = TailrunLogger(experiment_name="lightning-all", workspace=ws, log_model="all")
    checkpoints = ModelCheckpoint(save_top_k=-1, every_n_epochs=1)   # keep every epoch's file
    train, val = _loaders()
    _trainer(tmp_path, [logger], max_epochs=3, callbacks=[checkpoints]).fit(TinyRegression(), train, val)
    files = [f for f in Run.get(ws, logger.version).get_file_names() if f.startswith("outputs/checkpoints/")]
    assert sorted(files) == [f"outputs/checkpoints/epoch={e}-step={8 * (e + 1)}.ckpt" for e in range(3)]


def test_a_failing_fit_marks_the_run_it_started_failed(ws: Any, tmp_path: Path) -> None:
    class Exploding(TinyRegression):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            if batch_idx == 3:
                raise RuntimeError("loss became a banana")
            return super().training_step(batch, batch_idx)

    logger = TailrunLogger(experiment_name="lightning-fail", workspace=ws)
    train, val = _loaders()
    with pytest.raises(RuntimeError, match="banana"):
        _trainer(tmp_path, [logger]).fit(Exploding(), train, val)
    details = Run.get(ws, logger.version).get_details()
    assert details["status"] == "Failed"
    assert "loss became a banana" in details["error"]["error"]["message"]
    assert len(stored_series(ws, logger.version, "train_loss")) == 3   # what was logged before is kept


def test_bad_arguments_are_refused_with_the_reason(ws: Any) -> None:
    with pytest.raises(ValueError, match="log_model must be False, True or 'all'"):
        TailrunLogger(log_model="best")
    with pytest.raises(TypeError, match="run must be a tailrun Run"):
        TailrunLogger(run="not-a-run")


def test_without_lightning_the_error_names_the_extra(tmp_path: Path) -> None:
    # a real interpreter in which `lightning` cannot be imported (a None entry blocks it)
    done = import_failure("lightning", "tailrun.integrations.lightning", env={**os.environ, "PYTHONPATH": ""})
    assert "pip install 'tailrun[lightning]'" in done.stdout, done.stderr
    assert "tailrun.integrations.lightning needs lightning" in done.stdout


def test_hyperparameters_that_cannot_be_properties_are_left_out_with_a_warning(ws: Any) -> None:
    logger = TailrunLogger(experiment_name="lightning-hparams", workspace=ws)
    logger.log_hyperparams({"lr": 0.1, "layers": [8, 8]})
    with pytest.warns(UserWarning) as caught:
        logger.log_hyperparams({"lr": 0.2, "notes": "x" * 5000, "seed": 7, "model": {"depth": 2}})
    message = str(caught[0].message)
    assert "'lr' (already '0.1'; properties cannot change)" in message
    assert "'notes' (a 5000-character value; the limit is 1000)" in message
    logger.finalize("success")
    run = Run.get(ws, logger.version)
    assert run.get_properties() == {"lr": "0.1", "layers": "[8, 8]", "seed": "7", "model/depth": "2"}
    assert run.get_status() == "Completed"

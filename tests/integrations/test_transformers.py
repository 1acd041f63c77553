"""TailrunCallback with a real Transformers Trainer: a 2-layer BERT built from a config (nothing
downloaded), random token data made here, trained on CPU through a real service. The stored
metrics are compared with the Trainer's own `state.log_history`."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"   # nothing may come from a hub
pytest.importorskip("transformers", reason="the transformers extra is not installed")

import torch  # noqa: E402
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments  # noqa: E402

from integration_kit import import_failure, stored_series  # noqa: E402
from tailrun import Experiment, Run  # noqa: E402
from tailrun.integrations.transformers import TailrunCallback  # noqa: E402


class RandomTokens(torch.utils.data.Dataset):
    def __init__(self, rows: int, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, 50, (rows, 12), generator=gen)
        self.labels = torch.randint(0, 2, (rows,), generator=gen)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "attention_mask": torch.ones_like(self.ids[i]),
                "labels": self.labels[i]}


def _trainer(tmp_path: Path, callback: TailrunCallback, **kwargs: Any) -> Trainer:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=16, num_labels=2)
    settings: dict[str, Any] = dict(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, per_device_eval_batch_size=8,
        num_train_epochs=2, logging_steps=1, eval_strategy="epoch", save_strategy="no", report_to=[],
        use_cpu=True, disable_tqdm=True, learning_rate=1e-3, seed=0)
    args = TrainingArguments(**{**settings, **kwargs})
    return Trainer(model=BertForSequenceClassification(config), args=args,
                   train_dataset=RandomTokens(16, 1), eval_dataset=RandomTokens(8, 2), callbacks=[callback])


def test_trainer_logs_with_global_steps_and_arguments_as_properties(ws: Any, tmp_path: Path) -> None:
    callback = TailrunCallback(experiment_name="bert-tiny", workspace=ws)
    trainer = _trainer(tmp_path, callback)
    trainer.train()
    run = Run.get(ws, callback.run.id)
    assert run.get_status() == "Completed"

    expected: dict[str, list[tuple[int, Any]]] = {}
    for entry in trainer.state.log_history:
        for name, value in entry.items():
            if name != "step" and isinstance(value, (int, float)):
                expected.setdefault(name, []).append((entry["step"], value))
    assert {"loss", "grad_norm", "learning_rate", "epoch", "eval_loss", "train_runtime"} <= set(expected)
    assert [s for s, _ in expected["loss"]] == list(range(1, 9))   # 16 rows / 4 a step, 2 epochs
    assert [s for s, _ in expected["eval_loss"]] == [4, 8]
    for name, points in expected.items():
        assert stored_series(ws, run.id, name) == points, name

    props = run.get_properties()
    args = trainer.args.to_dict()
    assert props["learning_rate"] == "0.001" and props["num_train_epochs"] == "2"
    assert props["per_device_train_batch_size"] == "4" and props["report_to"] == "[]"
    assert props["accelerator_config/even_batches"] == str(args["accelerator_config"]["even_batches"])
    assert props["output_dir"] == str(tmp_path / "out")


def test_a_run_passed_in_stays_open_and_gets_eval_after_training(ws: Any, tmp_path: Path) -> None:
    mine = Experiment(ws, "bert-mine").start_logging()
    trainer = _trainer(tmp_path, TailrunCallback(run=mine), eval_strategy="no")
    trainer.train()
    trainer.evaluate()
    assert Run.get(ws, mine.id).get_status() == "Running"
    assert stored_series(ws, mine.id, "eval_loss") == [(8, trainer.state.log_history[-1]["eval_loss"])]
    mine.complete()


def test_without_transformers_the_error_names_the_extra() -> None:
    done = import_failure("transformers", "tailrun.integrations.transformers")
    assert "pip install 'tailrun[transformers]'" in done.stdout, done.stderr

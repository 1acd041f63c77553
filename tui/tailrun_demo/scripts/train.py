"""A demo training run: curves per step, an epoch table, sample images, console output, output files.

    python train.py --experiment E --name N --lr 0.01 --seconds 120 [--fail-at-epoch K]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import accuracy_from_loss, loss_at, sample_grid  # noqa: E402

from tailrun import Experiment, Workspace  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--experiment", default="demo-mnist")
    p.add_argument("--name", default="run")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--steps-per-epoch", type=int, default=200)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--fail-at-epoch", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    rng = random.Random(args.seed)
    run = Experiment(Workspace(), args.experiment).start_logging(
        display_name=args.name, tags={"lr": str(args.lr), "model": "cnn", "seed": str(args.seed)})
    run.add_properties({"script": "train.py", "argv": " ".join(sys.argv[1:])})
    total = args.epochs * args.steps_per_epoch
    delay = args.seconds / total
    print(f"training {args.name}: lr={args.lr} epochs={args.epochs} steps={total}", flush=True)
    os.makedirs("outputs", exist_ok=True)
    step = 0
    for epoch in range(1, args.epochs + 1):
        for _ in range(args.steps_per_epoch):
            loss = loss_at(step, args.lr * 10, 0.05, rng)
            run.log("loss", loss, step=step)
            run.log("accuracy", accuracy_from_loss(loss), step=step)
            run.log("lr", args.lr * (0.5 ** (epoch - 1)), step=step)
            step += 1
            time.sleep(delay)
        val = loss_at(step, args.lr * 9, 0.02, rng) * 1.08
        run.log_row("epochs", epoch=epoch, train_loss=round(loss, 4), val_loss=round(val, 4),
                    val_accuracy=round(accuracy_from_loss(val), 4))
        print(f"epoch {epoch}/{args.epochs}  loss={loss:.4f}  val_loss={val:.4f}", flush=True)
        if epoch % 2 == 0 or epoch == args.epochs:
            path = f"outputs/samples_epoch{epoch}.png"
            with open(path, "wb") as fh:
                fh.write(sample_grid(epoch))
            run.log_image("samples", path=path)
        if args.fail_at_epoch and epoch >= args.fail_at_epoch:
            print("warning: loss is diverging", file=sys.stderr, flush=True)
            raise FloatingPointError(f"loss became nan at epoch {epoch} (lr={args.lr} is too high)")
    classes = ["airplane", "car", "bird", "cat", "deer", "dog"]
    run.log_table("per_class", {"class": classes,
                                "precision": [round(0.8 + rng.random() * 0.18, 3) for _ in classes],
                                "recall": [round(0.75 + rng.random() * 0.2, 3) for _ in classes]})
    run.log_list("val_loss_per_epoch", [round(loss_at(i * 200, args.lr * 9, 0, rng), 4) for i in range(args.epochs)])
    with open("outputs/config.json", "w") as fh:
        json.dump(vars(args), fh, indent=2)
    with open("outputs/metrics.csv", "w") as fh:
        fh.write("epoch,val_loss\n" + "".join(f"{i},{loss_at(i * 200, args.lr * 9, 0, rng):.4f}\n"
                                              for i in range(1, args.epochs + 1)))
    with open("outputs/model.bin", "wb") as fh:
        fh.write(os.urandom(64 * 1024))
    print("saved outputs/model.bin", flush=True)
    run.complete()


if __name__ == "__main__":
    main()

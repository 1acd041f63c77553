"""A demo parent run that trains a few child runs (one per learning rate), one after the other."""
from __future__ import annotations

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import loss_at  # noqa: E402

from tailrun import Experiment, Workspace  # noqa: E402


def main() -> None:
    experiment = sys.argv[1] if len(sys.argv) > 1 else "demo-sweep"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 60
    rng = random.Random(7)
    parent = Experiment(Workspace(), experiment).start_logging(display_name="lr-sweep", tags={"kind": "sweep"})
    rates = [0.003, 0.01, 0.03]
    best = None
    for lr in rates:
        child = parent.child_run(name=f"lr={lr}")
        child.tag("lr", str(lr))
        print(f"child lr={lr} started", flush=True)
        final = 0.0
        for step in range(300):
            final = loss_at(step, lr * 10, 0.04, rng)
            child.log("loss", final, step=step)
            time.sleep(seconds / len(rates) / 300)
        child.complete()
        parent.log("final_loss", final, step=len([r for r in rates if r <= lr]))
        best = min(best or (final, lr), (final, lr))
        print(f"child lr={lr}: final loss {final:.4f}", flush=True)
    parent.tag("best_lr", str(best[1]))
    parent.complete()


if __name__ == "__main__":
    main()

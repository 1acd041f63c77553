"""HyperDrive sweeps as an orchestrated run: `controller.py` (the parent's decisions), `sampling.py`
(random, grid, Bayesian/TPE with Optuna), `policies.py` (early termination)."""

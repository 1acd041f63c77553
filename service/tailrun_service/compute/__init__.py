"""Compute targets: where submitted runs execute.

targets.py   the target interface, `--compute-config` (TOML) and the registry of named targets;
             `local` (the runner's own child processes) always exists
slurm.py     the `slurm` kind: jobs through Slurm's command-line tools (sbatch, squeue, scancel, sinfo)
slurm_poll.py  one thread polling every Slurm job of the service in one squeue call per interval,
             mapping Slurm's states to run statuses
See docs/COMPUTE_TARGETS.md for how other engines (Kubernetes Jobs, Ray Jobs) would plug in.
"""

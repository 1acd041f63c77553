"""Plug tailrun into the framework a script already uses, in one line.

Each integration is its own module, imported on purpose (never by `import tailrun`), and each
needs its optional extra:

- `tailrun.integrations.lightning.TailrunLogger`: a PyTorch Lightning `Logger` (`tailrun[lightning]`)
- `tailrun.integrations.keras.TailrunCallback`: a Keras 3 `Callback` (`tailrun[keras]`)
- `tailrun.integrations.transformers.TailrunCallback`: a Hugging Face `TrainerCallback`
  (`tailrun[transformers]`)
- `tailrun.integrations.logging.TailrunHandler`: a standard `logging.Handler` (no extra)

Which run they log to is the same for all (see `_common.resolve_run`): the `run` passed in; else
a new run in `experiment_name` that the integration finishes itself; else `Run.get_context()`.
"""

"""Importing runs from other trackers: `tensorboard` (event files) and `mlflow` (a file or SQLite
tracking store). Each reads its source whole first, then writes through `common.write_runs`."""

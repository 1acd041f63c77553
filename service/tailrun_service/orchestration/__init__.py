"""Orchestrated runs: parent runs the service drives (HyperDrive sweeps, pipelines), whose children
are ordinary submitted runs.

How a run becomes orchestrated: `SubmitRun` with a run definition that has a top-level key naming a
controller kind (`{"hyperdrive": {...}}`, `{"pipeline": {...}}`). `Runner.submit` hands such a
submission to `Orchestrator.submit`, which checks it (`Controller.check`), stores the snapshot zip,
creates the parent run (run_type = `Controller.run_type`, status Running, property
`azureml.runsource` = run_type, `ContentSnapshotId`), a row of the `orchestrations` table
(migration 0004_orchestration) and the controller, then calls `controller.update()`.

The interface a controller kind implements (see core.Controller), registered in `CONTROLLERS`:

    class MyController(Controller):
        kind = "mykind"            # the definition's top-level key
        run_type = "mykind"        # the parent's RunInfo.run_type
        metrics = ("loss",)        # or a property: metric names of the children the core follows
        @classmethod
        def check(cls, definition: dict) -> None: ...   # raise InvalidArgument naming the problem
        @classmethod
        def parent_properties(cls, definition: dict) -> dict[str, str]: ...   # optional
        def update(self) -> None: ...                   # decide: submit / cancel children, finish

`update()` is called once at creation, once after a service restart, and after every batch of
events of the parent or its children (status changes, new points of the followed metrics). It must
be idempotent: it reads the current picture from `self.run` and acts on the difference. What it
needs to remember goes into `self.run.state` (a JSON-able dict), which the core saves after each
`update()` (and `self.run.save()` saves at once, e.g. before a side effect that must not repeat).

`self.run` is an `OrchestratedRun`:
- `run_id`, `experiment`, `definition` (the parsed run definition), `info` (the parent's RunInfo),
  `state` (the controller's dict), `children` (run_id -> RunInfo, current, in submit order),
  `series(child_id, name)` -> the values of a followed metric, in order (ints, floats, ...).
- `submit_child(key, definition, *, display_name="", tags=None, properties=None) -> RunInfo`:
  submits child `<parent>_<key>` through `Runner.submit` (the same path as any submitted run,
  so it goes to the definition's compute target) with the parent's snapshot zip. Idempotent: if
  that run exists, it is returned and nothing is submitted. Raises InvalidArgument from the runner.
- `cancel_child(run_id, code, message)`: records error {code, message} on the child, then
  cancels it through the runner (it ends Canceled). `set_child_error(run_id, code, message)` records
  the error again (call it once the child is final: the script's SIGTERM handler may write its own).
- `wake_at(unix_time)`: `update()` is called again then, events or not (time limits).
- `log(line)`: appends a line to the parent's console `user_logs/std_log.txt` (what
  `wait_for_completion(show_output=True)` streams and the UI shows).
- `patch(tags=None, properties=None, warnings=())`: tags / add-only properties / warnings of the parent.
- `finish(status, code="", message="")`: the parent's final status (error {code, message} when
  given); children still active are canceled; the controller is not called again.
- `canceling`: True once the parent was canceled (the core then cancels the children and ends
  the parent Canceled when they are final; `update()` is not called meanwhile).

Events come from the store's change feed (`Store.wait_for_change` + `events_after` for the
parents and their children), one thread for all orchestrated runs; controller calls are
serialised under one lock. After a restart, `Orchestrator.start()` (called by `Runner.start()`,
after the runner recovered its runs) reloads every active orchestration, its children and their
followed metrics, and calls `update()`: children already submitted are not submitted again (ids are
deterministic), children the runner had queued are re-queued by the runner's own recovery.
Keys of `state` starting with "_" are the core's (`_canceling`, `_service_data_dir`: with
replicas sharing a PostgreSQL store, only the service whose runner has the children resumes it).
"""
from __future__ import annotations

from .core import CONTROLLERS, Controller, OrchestratedRun, Orchestrator, controller_kind

__all__ = ["CONTROLLERS", "Controller", "OrchestratedRun", "Orchestrator", "controller_kind"]

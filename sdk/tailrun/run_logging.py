"""The `Run.log*` methods: validate, normalise, queue a tuple, return.

`log` has a fast path for the common case (a float or int for a metric already seen with the
same step usage): one dict lookup and one `deque.append` of a plain tuple. Everything else —
first use of a name, validation, normalisation, the description — is in `_log_slow`. Only wrong
arguments raise (as in Azure ML); nothing here does I/O except reading an image file.
"""
from __future__ import annotations

import io
import json
import os
import time
from typing import Any

from . import _values as V
from .wire import ARTIFACT, CHUNK_BYTES, DESCRIBE, EVENT, LIST, POINT, ROW, TABLE, artifact_uri
MAX_IMAGE_BYTES = 50 * 1024 * 1024  # log_image refuses bigger images before queuing (upload_file takes them)

_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF87a", "gif"), (b"GIF89a", "gif"),
    (b"BM", "bmp"), (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"),
)


def image_type(head: bytes) -> str | None:
    """png/jpeg/gif/bmp/webp/tiff from the first bytes of a file, else None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    for magic, kind in _IMAGE_MAGIC:
        if head.startswith(magic):
            return kind
    return None


def clean_artifact_path(name: Any, what: str = "file name") -> str:
    """A run file path: relative, '/'-separated, no '..', no empty name."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, not {type(name).__name__}")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or name.startswith("/") or ".." in parts or any(V._CONTROL.search(p) for p in parts):
        raise ValueError(f"invalid {what} {name!r}: it must be a relative path without '..' "
                         "or control characters, e.g. 'outputs/model.pt'")
    return "/".join(parts)


# Past this many queued items (~12 MB) a logging call wakes the sender (once until it drains) and
# yields the GIL to it (`Recorder.backpressure`), so that a loop logging faster than the sender can
# encode lets it catch up instead of growing the queue without bound. Below it, a call costs one
# `len()` more.
QUEUE_SOFT_LIMIT = 100_000


def fast_log(run: "LoggingMixin") -> Any:
    """`run.log` as a closure over the run's queue append, id and metric state.

    Installed on the instance (shadowing `LoggingMixin.log`) once the queue is known: closure
    variables are cheaper than four attribute lookups per call, and this is the hottest call of
    a training loop. The logic is exactly `LoggingMixin.log`'s.
    """
    append, run_id, known_steps, now, slow = (run._append, run._id, run._scalar_steps.get,
                                              time.time, run._log_slow)
    queued, backpressure = run._append.__self__.__len__, run._recorder().backpressure

    def log(name: str, value: Any, description: str = "", step: int | None = None) -> None:
        try:
            tv = type(value)
            if tv is float or tv is int:
                has_steps = known_steps(name)
                if step is None:
                    if has_steps is False:
                        append((0, run_id, name, value, None, now()))
                        if queued() > QUEUE_SOFT_LIMIT:
                            backpressure()
                        return
                elif has_steps and type(step) is int:
                    append((0, run_id, name, value, step, now()))
                    if queued() > QUEUE_SOFT_LIMIT:
                        backpressure()
                    return
        except TypeError:  # an unhashable name: let the slow path explain
            pass
        slow(name, value, description, step)

    log.__doc__ = LoggingMixin.log.__doc__
    log.__qualname__ = "Run.log"
    return log


class LoggingMixin:
    """Metric logging of a Run; the state lives in attributes set by `Run._setup`."""

    def _recorder(self) -> Any: ...        # provided by Run

    _id: str
    _append: Any
    _time: Any
    _scalar_steps: dict[str, bool]
    _kinds: dict[str, int]

    # ------------------------------------------------------------------ scalars (the hot path)

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Log a scalar (int, float, str, bool, None; numpy scalars are converted; other objects
        are stored as their repr with a warning). Logging a name again makes it a series. `step`
        is an optional int x value: either every value of a metric has one, or none does."""
        try:
            tv = type(value)
            if tv is float or tv is int:
                has_steps = self._scalar_steps.get(name)
                if step is None:
                    if has_steps is False:
                        self._append((0, self._id, name, value, None, self._time()))
                        return
                elif has_steps and type(step) is int:
                    self._append((0, self._id, name, value, step, self._time()))
                    return
        except TypeError:  # an unhashable name: let the slow path explain
            pass
        self._log_slow(name, value, description, step)

    def _log_slow(self, name: Any, value: Any, description: str, step: Any) -> None:
        V.check_metric_name(name)
        if V.is_sequence_like(value):
            raise TypeError(f"metric {name!r}: log() takes a single value, not a {type(value).__name__}; "
                            "use log_list() for a list of values")
        step = V.check_step(name, step)
        value = V.normalise_scalar(value, f"metric {name!r}")
        if self._claim_scalar(name, step is not None):
            self._describe(name, description)
        self._append((POINT, self._id, name, value, step, self._time()))

    def _log_series(self, name: str, values: Any, steps: Any, times: Any) -> None:
        """Queue a whole scalar series with its own times (importers; not Azure ML API).

        The same validation and queue items as `log`, checked once per series, so an import
        goes through the normal exactly-once path with the original steps and wall times.
        `steps` is None (no steps) or one int per value; `times` one unix time per value."""
        V.check_metric_name(name)
        values = list(values)
        times = [float(t) for t in times]
        step_list = None if steps is None else [V.check_step(name, s) for s in steps]
        if len(times) != len(values) or (step_list is not None and len(step_list) != len(values)):
            raise ValueError(f"metric {name!r}: values, steps and times must have the same length")
        if not values:
            return
        self._claim_scalar(name, step_list is not None)
        rec = self._recorder()
        append, run_id, queued = self._append, self._id, rec.queue.__len__
        for i, value in enumerate(values):
            if type(value) is not float and type(value) is not int:
                value = V.normalise_scalar(value, f"metric {name!r}")
            append((POINT, run_id, name, value, None if step_list is None else step_list[i], times[i]))
            if queued() > QUEUE_SOFT_LIMIT:
                rec.backpressure()

    def _claim_scalar(self, name: str, has_steps: bool) -> bool:
        """Record a scalar metric and whether its values have steps on first use (True); refuse
        values with steps for a metric logged without them, and the reverse."""
        known = self._scalar_steps.get(name)
        if known is None:
            self._claim(name, V.KIND_SCALAR)
            self._scalar_steps[name] = has_steps
            return True
        if known != has_steps:
            raise ValueError(
                f"metric {name!r} was logged {'with' if known else 'without'} a step before; "
                f"every value of one metric must {'have a step' if known else 'be logged without a step'}")
        return False

    def _claim(self, name: str, kind: int) -> bool:
        """Record the kind of a metric on first use (True); refuse a second kind under one name."""
        current = self._kinds.get(name)
        if current is None:
            self._kinds[name] = kind
            return True
        if current != kind:
            raise ValueError(f"metric {name!r} was logged with {V.KIND_METHOD[current]}(); "
                             f"it cannot also be logged with {V.KIND_METHOD[kind]}() — use another name")
        return False

    def _describe(self, name: str, description: Any) -> None:
        # queued before the metric's first point: the encoder attaches it to the next chunk
        if description:
            self._append((DESCRIBE, self._id, name, str(description)))

    # ------------------------------------------------------------------ lists, rows, tables

    def log_list(self, name: str, value: Any, description: str = "") -> None:
        """Log a list of scalars, one row per element. An empty list is a no-op (Azure ML 1.61
        crashes on it); ints mixed with floats become floats."""
        V.check_metric_name(name)
        items = V.normalise_list(name, value)
        if not items:
            return
        if self._claim(name, V.KIND_LIST):
            self._describe(name, description)
        self._append((LIST, self._id, name, items, None, self._time()))

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """Log one row of a table metric, its columns given as keyword arguments. Columns first
        used in a later row read back as None in the earlier ones."""
        V.check_metric_name(name)
        if not kwargs:
            raise ValueError(f"metric {name!r}: log_row needs at least one column, e.g. "
                             f"run.log_row({name!r}, x=1, y=2)")
        V.check_columns(name, kwargs)
        row = {col: V.cell(name, col, v) for col, v in kwargs.items()}
        if self._claim(name, V.KIND_ROW):
            self._describe(name, description)
        self._append((ROW, self._id, name, row, None, self._time()))

    def log_table(self, name: str, value: Any, description: str = "") -> None:
        """Log a table: a dict of column -> list of values (a scalar counts as one value); every
        column must have the same length. An empty dict is a no-op."""
        V.check_metric_name(name)
        if not isinstance(value, dict):
            raise TypeError(f"metric {name!r}: log_table needs a dict of column -> list of values, "
                            f"not {type(value).__name__}")
        if not value:
            return
        V.check_columns(name, value)
        table: dict[str, list] = {}
        for col, cells in value.items():
            if hasattr(cells, "tolist") and type(cells).__module__ == "numpy":
                cells = cells.tolist()
            if not isinstance(cells, (list, tuple, range)):
                cells = [cells]
            table[col] = [V.cell(name, col, v) for v in cells]
        lengths = {col: len(cells) for col, cells in table.items()}
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{col!r}: {n}" for col, n in lengths.items())
            raise ValueError(f"metric {name!r}: log_table columns have different lengths ({detail}); "
                             "every column must have one value per row")
        nrows = next(iter(lengths.values()))
        if nrows == 0:
            return
        if self._claim(name, V.KIND_TABLE):
            self._describe(name, description)
        self._append((TABLE, self._id, name, table, nrows, self._time()))

    # ------------------------------------------------------------------ artifact-backed metrics

    def log_image(self, name: str, path: str | None = None, plot: Any = None, description: str = "") -> None:
        """Log an image metric from a file (`path`) or a matplotlib figure/pyplot (`plot`), exactly
        one of them. A file is stored under its path as given; a plot as `<name>_<unix-seconds>.png`."""
        V.check_metric_name(name)
        if (path is None) == (plot is None):
            raise ValueError(f"metric {name!r}: log_image needs exactly one of path= or plot=")
        if path is not None:
            with open(path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size > MAX_IMAGE_BYTES:
                    raise ValueError(f"metric {name!r}: the image {str(path)!r} is {size} bytes, over the "
                                     f"limit of {MAX_IMAGE_BYTES} bytes for log_image; use upload_file for it")
                data = fh.read()
            if image_type(data[:16]) is None:
                raise ValueError(f"metric {name!r}: {str(path)!r} is not an image "
                                 "(expected png, jpeg, gif, bmp, webp or tiff)")
            target = clean_artifact_path(str(path), "image path")
        else:
            if not hasattr(plot, "savefig"):
                raise TypeError(f"metric {name!r}: plot must be a matplotlib Figure or pyplot "
                                f"(something with savefig), not {type(plot).__name__}")
            buf = io.BytesIO()
            plot.savefig(buf, format="png")
            data = buf.getvalue()
            if len(data) > MAX_IMAGE_BYTES:
                raise ValueError(f"metric {name!r}: the plot is {len(data)} bytes as PNG, over the limit "
                                 f"of {MAX_IMAGE_BYTES} bytes for log_image")
            target = clean_artifact_path(f"{name}_{int(time.time())}.png", "image name")
        self._log_artifact(name, V.KIND_IMAGE, target, data, description)

    def _log_json_metric(self, name: str, value: Any, description: str) -> None:
        V.check_metric_name(name)
        if isinstance(value, str):
            try:
                json.loads(value)
            except ValueError as exc:
                raise ValueError(f"metric {name!r}: value is not valid JSON: {exc}") from None
            text = value
        elif isinstance(value, dict):
            try:
                text = json.dumps(value)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"metric {name!r}: value cannot be written as JSON: {exc}") from None
        else:
            raise TypeError(f"metric {name!r}: value must be a dict or a JSON string, "
                            f"not {type(value).__name__}")
        self._log_artifact(name, V.KIND_JSON, clean_artifact_path(name, "metric name"),
                           text.encode("utf-8"), description)

    def log_confusion_matrix(self, name: str, value: Any, description: str = "") -> None:
        """Log a confusion matrix (a dict or JSON string: {schema_type, schema_version, data})."""
        self._log_json_metric(name, value, description)

    def log_accuracy_table(self, name: str, value: Any, description: str = "") -> None:
        """Log an accuracy table (a dict or JSON string)."""
        self._log_json_metric(name, value, description)

    def log_predictions(self, name: str, value: Any, description: str = "") -> None:
        """Log predictions (a dict or JSON string)."""
        self._log_json_metric(name, value, description)

    def log_residuals(self, name: str, value: Any, description: str = "") -> None:
        """Log residuals (a dict or JSON string)."""
        self._log_json_metric(name, value, description)

    def _log_artifact(self, name: str, kind: int, path: str, data: bytes, description: str,
                      when: float | None = None) -> None:
        first = self._claim(name, kind)
        self._enqueue_bytes(path, data)  # queued first, so the file exists before the metric row
        if first:
            self._describe(name, description)
        self._append((ARTIFACT, self._id, name, kind, artifact_uri(self._id, path), when or self._time()))

    def _enqueue_bytes(self, path: str, data: bytes) -> None:
        """Queue a whole file as EVENT `file` chunks of at most 1 MiB."""
        size = len(data)
        offset = 0
        while True:
            piece = data[offset:offset + CHUNK_BYTES]
            last = offset + len(piece) >= size
            self._append((EVENT, self._id, "file", {"run_id": self._id, "path": path, "offset": offset,
                                                    "data": piece, "last": last}))
            offset += len(piece)
            if last:
                return

"""`tailrun import tensorboard LOGDIR`: TensorBoard event files as tailrun runs.

Every folder under LOGDIR that holds event files (`*tfevents*`, as TensorBoard finds runs) is one
run; its files are read in name order (the order TensorBoard reads them). Each file is a sequence
of TFRecord frames (length, masked CRC-32C of the length, data, masked CRC-32C of the data), read
by `_records` with both CRCs checked by `google-crc32c`'s C code: TensorBoard's own reader checks
them in pure Python (~7 µs a record, most of a million-point import) and its `RawEventFileLoader`
silently stops at a corrupt record. The data is parsed as TensorBoard's `Event` protos; what is
imported:

- scalars: `simple_value` (PyTorch's SummaryWriter, tensorboardX, TF1) and TF2 tensor scalars
  (plugin "scalars") -> a metric per tag with the event steps and wall times, values exact (a
  float32 `simple_value` is stored as the double it is);
- images (`Summary.Image` and TF2 plugin "images") -> an image metric per tag, the files under
  `tensorboard/images/<tag>/<step>.<ext>`;
- text (plugin "text") -> a string metric per tag with steps;
- everything else (histograms, audio, graphs, hparams, ...) is counted and named on stderr,
  not imported.

The run starts at the first event's wall time and ends Completed at the last one. A record that
cannot be read or parsed stops the import before anything is written: the error names the file
and the record's index.
"""
from __future__ import annotations

import hashlib
import struct
from collections import Counter
from pathlib import Path
from typing import Any

from .._extras import require
from ..run_logging import image_type
from .common import Image, ImportedRun, ImportSourceError, Series, experiment_name

EXTRA = "tensorboard"


def find_runs(logdir: Path) -> dict[Path, list[Path]]:
    """{run folder: its event files in name order}, folders in path order."""
    if logdir.is_file():
        return {logdir.parent: [logdir]}
    if not logdir.is_dir():
        raise ImportSourceError(f"{str(logdir)!r}: no such folder")
    runs: dict[Path, list[Path]] = {}
    for path in sorted(logdir.rglob("*tfevents*")):
        if path.is_file():
            runs.setdefault(path.parent, []).append(path)
    if not runs:
        raise ImportSourceError(f"no TensorBoard event files (events.out.tfevents.*) under {str(logdir)!r}")
    return {folder: sorted(files, key=lambda p: p.name) for folder, files in sorted(runs.items())}


def read_logdir(logdir: str, experiment: str | None = None, skipped: Counter | None = None) -> list[ImportedRun]:
    """Read every run under `logdir` (nothing is written). `skipped` counts what was left out."""
    require("tensorboard", EXTRA, "importing TensorBoard logs")
    require("google_crc32c", EXTRA, "importing TensorBoard logs")
    root = Path(logdir)
    found = find_runs(root)
    base = root.resolve() if root.is_dir() else root.resolve().parent
    exp = experiment or experiment_name(base.name, "tensorboard")
    skipped = skipped if skipped is not None else Counter()
    return [_read_run(folder, files, base, exp, skipped) for folder, files in found.items()]


_HEADER = struct.Struct("<QI")     # data length, masked CRC-32C of the 8 length bytes
_FOOTER = struct.Struct("<I")      # masked CRC-32C of the data
_MASK_DELTA = 0xA282EAD8


def _masked_crc(data: bytes, crc32c: Any) -> int:
    """TFRecord's masked CRC-32C: rotated right by 15 bits, plus a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def _records(path: Path) -> Any:
    """Yield (index, data) of each record of a TFRecord file; a truncated or corrupt record raises
    ImportSourceError naming the file and the record's index."""
    from google_crc32c import value as crc32c

    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise ImportSourceError(f"{path}: cannot be opened ({exc}); nothing was imported") from None
    offset, index, end = 0, 0, len(blob)
    while offset < end:
        problem = None
        if end - offset < _HEADER.size:
            problem = "truncated header"
        else:
            length, length_crc = _HEADER.unpack_from(blob, offset)
            start = offset + _HEADER.size
            stop = start + length
            if _masked_crc(blob[offset:offset + 8], crc32c) != length_crc:
                problem = "length CRC mismatch"
            elif stop + _FOOTER.size > end:
                problem = "truncated record"
            elif _masked_crc(data := blob[start:stop], crc32c) != _FOOTER.unpack_from(blob, stop)[0]:
                problem = "data CRC mismatch"
        if problem:
            raise ImportSourceError(f"{path}: record {index} cannot be read ({problem}); "
                                    "nothing was imported")
        yield index, data
        offset, index = stop + _FOOTER.size, index + 1


def _read_run(folder: Path, files: list[Path], base: Path, experiment: str, skipped: Counter) -> ImportedRun:
    from tensorboard.compat.proto.event_pb2 import Event

    relative = folder.resolve().relative_to(base).as_posix() if folder.resolve() != base else ""
    digest = hashlib.sha256("\n".join(f.name for f in files).encode()).hexdigest()[:32]
    run = ImportedRun(source_id=f"tensorboard:{digest}", source_label=str(folder.resolve()),
                      experiment=experiment, display_name=relative or base.name)
    values = _Values(run, skipped)
    first = last = None
    for path in files:
        for index, record in _records(path):
            try:
                event = Event.FromString(record)
            except Exception as exc:
                raise ImportSourceError(f"{path}: record {index} is not a TensorBoard event ({exc}); "
                                        "nothing was imported") from None
            wall = event.wall_time
            if first is None or wall < first:
                first = wall
            if last is None or wall > last:
                last = wall
            if event.HasField("summary"):
                try:
                    values.add(event, wall)
                except Exception as exc:
                    raise ImportSourceError(f"{path}: record {index} (step {event.step}) cannot be "
                                            f"imported ({exc}); nothing was imported") from None
    run.start_time, run.end_time = first or 0.0, last or 0.0
    return run


class _Values:
    """Sorts one run's summary values into scalars, text and images."""

    def __init__(self, run: ImportedRun, skipped: Counter) -> None:
        from tensorboard.util import tensor_util

        self.run, self.skipped = run, skipped
        self.make_ndarray = tensor_util.make_ndarray
        self.plugin_of: dict[str, str] = {}   # TF2 writes a tag's metadata with its first value only
        self.image_counts: Counter = Counter()

    def _series(self, tag: str) -> Series:
        series = self.run.metrics.get(tag)
        if series is None:
            series = self.run.metrics[tag] = Series()
        return series

    def add(self, event: Any, wall: float) -> None:
        step = event.step
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            tag = value.tag
            if kind == "simple_value":
                series = self._series(tag)
                series.values.append(value.simple_value)
                series.steps.append(step)
                series.times.append(wall)
            elif kind == "image":
                self._image(tag, step, wall, value.image.encoded_image_string)
            elif kind == "tensor":
                self._tensor(tag, step, wall, value)
            else:
                self.skipped[kind or "empty value"] += 1

    def _tensor(self, tag: str, step: int, wall: float, value: Any) -> None:
        plugin = value.metadata.plugin_data.plugin_name if value.HasField("metadata") else ""
        if plugin:
            self.plugin_of.setdefault(tag, plugin)
        else:
            plugin = self.plugin_of.get(tag, "")
        if plugin == "scalars":
            series = self._series(tag)
            series.values.append(self.make_ndarray(value.tensor).item())
            series.steps.append(step)
            series.times.append(wall)
        elif plugin == "text":
            texts = [s.decode("utf-8", "replace") for s in value.tensor.string_val]
            series = self._series(tag)
            series.values.append("\n".join(texts))
            series.steps.append(step)
            series.times.append(wall)
        elif plugin == "images":
            for data in value.tensor.string_val[2:]:   # [width, height, image, image, ...]
                self._image(tag, step, wall, data)
        else:
            self.skipped[plugin or "tensor"] += 1

    def _image(self, tag: str, step: int, wall: float, data: bytes) -> None:
        ext = image_type(data[:16]) or "bin"
        n = self.image_counts[(tag, step)]
        self.image_counts[(tag, step)] += 1
        name = f"{step}" if n == 0 else f"{step}_{n}"
        self.run.images.append(Image(tag, f"tensorboard/images/{_path_part(tag)}/{name}.{ext}", bytes(data), wall))


def _path_part(tag: str) -> str:
    parts = [p for p in tag.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return "/".join(parts) or "image"

"""Messages that carry service results from worker threads to the widgets that asked for them.

Widget-specific UI messages (a row chosen, a run opened) are nested in the widget that sends them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from tailrun.v1 import tailrun_pb2 as pb


@dataclass
class ExperimentsLoaded(Message):
    experiments: list[pb.Experiment]


@dataclass
class RunsLoaded(Message):
    experiment: str
    runs: list[pb.RunInfo]
    metric_names: list[str] = field(default_factory=list)   # the columns the list can offer
    columns: list[str] = field(default_factory=list)        # the columns whose values were asked for


@dataclass
class RunCountLoaded(Message):
    """Every run of the experiment, child runs included (the list shows the top-level ones)."""
    experiment: str
    run_count: int


@dataclass
class RunLoaded(Message):
    run: pb.RunInfo
    children: list[pb.RunInfo] = field(default_factory=list)


@dataclass
class ModelsLoaded(Message):
    run_id: str
    models: list[pb.ModelInfo]


@dataclass
class SeriesLoaded(Message):
    run_id: str
    name: str
    series: pb.SeriesResponse
    tail: int = 0
    last: tuple[float, ...] | None = None   # the true last point (x, y[, t]) of a downsampled series


@dataclass
class MetricLoaded(Message):
    """Whole chunks of one non-scalar metric (tables, images)."""
    run_id: str
    name: str
    chunks: list[pb.MetricPoints]


@dataclass
class OutputLoaded(Message):
    run_id: str
    source: str              # "" = the console
    text: pb.OutputText
    log_files: list[str] = field(default_factory=list)   # other live logs of the run


@dataclass
class FilesLoaded(Message):
    run_id: str
    files: list[pb.FileInfo]


@dataclass
class FilePreview(Message):
    """Bytes of a file to preview, or a one-line note explaining why there is no preview."""
    run_id: str
    info: pb.FileInfo
    data: bytes = b""
    note: str = ""
    truncated: bool = False


@dataclass
class ImageLoaded(Message):
    key: str
    data: bytes = b""
    note: str = ""


@dataclass
class OpenRun(Message):
    """Drill into one run (from a runs table, a child-runs table, ...)."""
    run_id: str


@dataclass
class OpenExperiment(Message):
    name: str


@dataclass
class ServiceProblem(Message):
    """A query failed; the screen shows the line until the next success."""
    text: str

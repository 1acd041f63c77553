"""Every message of the UI: service results carried from worker threads to the widgets that asked
for them, and what a widget tells its screen (a run opened, a filter typed, a row marked)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.message import Message

from tailrun.v1 import tailrun_pb2 as pb

if TYPE_CHECKING:
    from .widgets.filter_bar import FilterBar
    from .widgets.metric_plot import MetricPlot
    from .widgets.run_table import RunTable

# ---------------------------------------------------------------------- service results


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
class ComparedRunsLoaded(Message):
    """The runs of a compare, asked again."""
    runs: list[pb.RunInfo]


@dataclass
class WorkerFailed(Message):
    """A worker of a screen or of one of its widgets failed; the screen shows why (worker_errors.py)."""
    error: BaseException


# ---------------------------------------------------------------------- navigation


@dataclass
class OpenRun(Message):
    """Drill into one run (from a runs table, a child-runs table, ...)."""
    run_id: str


@dataclass
class OpenExperiment(Message):
    name: str


@dataclass
class CommandChosen(Message):
    """The `:` line resolved to a navigation target (see screens/command_bar.py `resolve`)."""
    target: tuple[str, ...]


# ---------------------------------------------------------------------- widget to screen


@dataclass
class FilterChanged(Message):
    """The text of a `/` line to apply: sent while typing (final=False) and on Enter/Esc (final=True)."""
    bar: "FilterBar"
    value: str
    final: bool

    @property
    def control(self) -> "FilterBar":   # `@on(FilterChanged, "#filter")` matches the line's id
        return self.bar


@dataclass
class RunSelectionChanged(Message):
    """Runs were marked or unmarked for compare on a runs table."""
    table: "RunTable"
    run_ids: list[str]


@dataclass
class RunsSorted(Message):
    """A runs table was sorted by a Shift+letter; `note` says how, for the status line."""
    table: "RunTable"
    note: str


@dataclass
class ChartCursorShown(Message):
    """A chart's cursor appeared: its grid fetches the points' times (left out until then)."""
    plot: "MetricPlot"

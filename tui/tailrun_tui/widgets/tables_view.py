"""Tables tab: `log_list`, `log_row` and `log_table` metrics as scrollable tables, live."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option

from tailrun.client import Client
from tailrun.v1 import tailrun_pb2 as pb

from .. import fmt
from ..messages import MetricLoaded
from tailrun.wire import decode_column
from .run_tab import SharedFetchTab

TABLE_KINDS = (pb.METRIC_KIND_LIST, pb.METRIC_KIND_ROW, pb.METRIC_KIND_TABLE)
MAX_ROWS = 50_000
KIND_NAMES = {pb.METRIC_KIND_LIST: "list", pb.METRIC_KIND_ROW: "rows", pb.METRIC_KIND_TABLE: "table",
              pb.METRIC_KIND_SCALAR: "values"}


def cell(value: object) -> Text:
    if isinstance(value, float):
        return Text(fmt.number(value))
    if value is None:
        return Text("—")
    return fmt.user_text(str(value))   # a logged string: no markup, no escape sequence


def chunk_rows(points: pb.MetricPoints) -> tuple[list[str], list[list[object]]]:
    """Column names and rows of one chunk (columnar on the wire)."""
    names = [c.name or "value" for c in points.columns]
    cols = [decode_column(c) for c in points.columns]
    nrows = max((len(c) for c in cols), default=0)
    rows = [[col[i] if i < len(col) else None for col in cols] for i in range(nrows)]
    return names, rows


@dataclass
class TableData:
    name: str
    kind: int = 0
    columns: list[str] = field(default_factory=list)
    rows: list[list[object]] = field(default_factory=list)
    loaded: bool = False

    def add(self, points: pb.MetricPoints) -> list[list[object]]:
        self.kind = self.kind or points.kind
        names, rows = chunk_rows(points)
        for n in names:
            if n not in self.columns:
                self.columns.append(n)
        index = {n: i for i, n in enumerate(names)}
        aligned = [[row[index[c]] if c in index else None for c in self.columns] for row in rows]
        self.rows.extend(aligned)
        return aligned


class TablesView(SharedFetchTab, Horizontal):
    FOCUS = "#table-data"

    def __init__(self, run_id: str, client: Client, fetch: Callable[[], None], id: str | None = None) -> None:
        super().__init__(run_id, client, fetch, id=id)
        self.tables: dict[str, TableData] = {}
        self.current: str | None = None

    def compose(self) -> ComposeResult:
        yield OptionList(id="table-list", classes="side-list")
        with Vertical(id="table-pane"):
            yield Static("", id="table-header", classes="tab-header")
            yield DataTable(id="table-data", zebra_stripes=True)
            yield Static("This run has no tables (log_list, log_row, log_table) yet.", id="tables-empty",
                         classes="hint")

    def on_mount(self) -> None:
        self.query_one("#table-data").display = False

    def metric_loaded(self, message: MetricLoaded) -> None:
        chunks = [c for c in message.chunks if c.kind in TABLE_KINDS]
        if not chunks:
            return
        data = TableData(message.name)
        for chunk in chunks:
            data.add(chunk)
        data.loaded = True
        self._register(data)

    def _register(self, data: TableData) -> None:
        new = data.name not in self.tables
        self.tables[data.name] = data
        options = self.query_one("#table-list", OptionList)
        if new:
            options.add_option(Option(fmt.user_text(data.name), id=data.name))
        if self.current is None or self.current == data.name:
            self.current = data.name
            options.highlighted = list(self.tables).index(data.name)
            self._show()
        self.query_one("#tables-empty").display = False

    def add_points(self, points: pb.MetricPoints) -> None:
        if not self.started or points.kind not in TABLE_KINDS:
            return
        data = self.tables.get(points.name)
        if data is None:
            data = TableData(points.name)
            data.add(points)
            data.loaded = True
            self._register(data)
            return
        old_columns = list(data.columns)
        rows = data.add(points)
        if points.name == self.current:
            table = self.query_one("#table-data", DataTable)
            if data.columns != old_columns:
                self._show()
            else:
                at_end = table.cursor_row >= table.row_count - 1
                for row in rows:
                    table.add_row(*[cell(v) for v in row])
                if at_end:
                    table.move_cursor(row=table.row_count - 1)
                self._header(data)

    @on(OptionList.OptionHighlighted, "#table-list")
    def _pick(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id and event.option.id != self.current:
            self.current = event.option.id
            self._show()

    def _header(self, data: TableData) -> None:
        self.query_one("#table-header", Static).update(fmt.user_text(
            f"{data.name} · {KIND_NAMES.get(data.kind, 'table')} · {len(data.rows):,} rows × {len(data.columns)} columns"))

    def _show(self) -> None:
        data = self.tables.get(self.current or "")
        table = self.query_one("#table-data", DataTable)
        table.clear(columns=True)
        if data is None:
            return
        table.add_columns(*[fmt.user_text(c) for c in data.columns])
        table.add_rows([[cell(v) for v in row] for row in data.rows])
        table.display = True
        self._header(data)

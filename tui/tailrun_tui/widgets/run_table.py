"""The runs of an experiment as a table: live rows updated in place, sort, filter, and a selection
of several runs for compare."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from tailrun.v1 import tailrun_pb2 as pb

from .. import fmt

SORT_KEYS = ("number", "status", "start", "duration", "name")
METRIC_SORT = "metric:"   # a sort key naming a metric column: "metric:loss"


def run_label(run: pb.RunInfo) -> str:
    return run.display_name or run.run_id


def _tags(run: pb.RunInfo) -> str:
    return " ".join(f"{k}={v}" if v else k for k, v in sorted(run.tags.items()) if not k.startswith("_"))


def matches(run: pb.RunInfo, needle: str) -> bool:
    if not needle:
        return True
    needle = needle.lower()
    hay = [run.run_id, run.display_name, run.status, str(run.number), run.description,
           *(f"{k}={v}" for k, v in run.tags.items())]
    return any(needle in h.lower() for h in hay)


MAX_COLUMN = 32


def _plain(cell: Text | str) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def _same(a: Text | str, b: Text | str) -> bool:
    if isinstance(a, Text) and isinstance(b, Text):
        return a.plain == b.plain and a.style == b.style
    return a == b


class RunTable(DataTable):
    """Rows keyed by run id. `set_runs` rebuilds only when the rows or columns change."""
    HELP_TITLE = "Runs list"

    BINDINGS = [
        Binding("space", "toggle_select", "Select", id="select", tooltip="Mark the run for compare"),
        Binding("j", "cursor_down", "Down", show=False, id="down-j"),
        Binding("k", "cursor_up", "Up", show=False, id="up-k"),
        Binding("g,home", "first", "First run", show=False, id="top"),
        Binding("G,end", "last", "Last run", show=False, id="bottom"),
    ]

    @dataclass
    class SelectionChanged(Message):
        table: "RunTable"
        run_ids: list[str]

    def __init__(self, clock: Callable[[], float], id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.clock = clock
        self.runs: dict[str, pb.RunInfo] = {}
        self.metric_columns: list[str] = []
        self.offered_names: set[str] = set()   # scalar metrics of the runs, from the list query
        self.selected: list[str] = []
        self.sort_key = "number"
        self.sort_reverse = True
        self.needle = ""
        self._shown: list[str] = []
        self._columns_shown: list[str] = []
        self._column_keys: list[str] = []
        self._cell_cache: dict[str, list[Text | str]] = {}
        self._texts: dict[str, dict[str, str]] = {}

    # ------------------------------------------------------------------ data

    def set_runs(self, runs: list[pb.RunInfo]) -> None:
        self.runs = {r.run_id: r for r in runs}
        self.redraw()

    def update_run(self, run: pb.RunInfo) -> None:
        old = self.runs.get(run.run_id)
        if old is not None and not run.last_metrics and old.last_metrics:
            run.last_metrics.update(old.last_metrics)
        self.runs[run.run_id] = run
        self.redraw()

    def update_metric(self, run_id: str, name: str, value: float) -> bool:
        run = self.runs.get(run_id)
        if run is None or math.isnan(value):
            return False
        run.last_metrics[name] = value
        if name not in run.metric_names:
            run.metric_names.append(name)
        return name in self.metric_columns

    def metric_names(self) -> list[str]:
        names = set(self.offered_names)
        for run in self.runs.values():
            names.update(run.last_metrics.keys())
        return sorted(names)

    # ------------------------------------------------------------------ view

    def sort_keys(self) -> list[str]:
        """The built-in columns, then each shown metric and the tags: what `s` cycles through."""
        return [*SORT_KEYS, *(f"{METRIC_SORT}{name}" for name in self.metric_columns), "tags"]

    def sort_label(self) -> str:
        return self.sort_key.removeprefix(METRIC_SORT)

    def _order(self) -> list[str]:
        now = self.clock()
        rows = [r for r in self.runs.values() if matches(r, self.needle)]
        if self.sort_key.startswith(METRIC_SORT):
            # Runs without the metric go last in both directions: they are not "the smallest".
            name = self.sort_key.removeprefix(METRIC_SORT)
            sign = -1 if self.sort_reverse else 1

            def by_metric(r: pb.RunInfo) -> tuple[int, float]:
                v = r.last_metrics.get(name)
                return (1, 0.0) if v is None or math.isnan(v) else (0, sign * v)

            rows.sort(key=by_metric)
            return [r.run_id for r in rows]
        keyf = {
            "number": lambda r: r.number,
            "status": lambda r: r.status,
            "start": lambda r: r.start_time or r.created_time,
            "duration": lambda r: ((r.end_time or now) - r.start_time) if r.start_time else -1,
            "name": lambda r: run_label(r).lower(),
            "tags": lambda r: _tags(r).lower(),
        }.get(self.sort_key, lambda r: r.number)
        rows.sort(key=keyf, reverse=self.sort_reverse)
        return [r.run_id for r in rows]

    def _metric_texts(self) -> dict[str, dict[str, str]]:
        """name -> run id -> value as shown: one notation per column, over every run (not only
        the filtered ones), so a column does not change notation while typing a filter."""
        out: dict[str, dict[str, str]] = {}
        ids = list(self.runs)
        for name in self.metric_columns:
            texts = fmt.numbers([self.runs[i].last_metrics.get(name) for i in ids])
            out[name] = dict(zip(ids, texts))
        return out

    def _cells(self, run: pb.RunInfo) -> list[Text | str]:
        now = self.clock()
        mark = "✓" if run.run_id in self.selected else " "
        cells: list[Text | str] = [
            mark, str(run.number or ""), fmt.user_text(run_label(run), no_wrap=True, overflow="ellipsis"),
            fmt.status_styled(run.status),
            fmt.clock_time(run.start_time or run.created_time, now),
            fmt.run_duration(run.start_time, run.end_time, now),
        ]
        for name in self.metric_columns:
            cells.append(Text(self._texts.get(name, {}).get(run.run_id, "—"), justify="right"))
        cells.append(fmt.user_text(_tags(run), no_wrap=True, overflow="ellipsis"))
        return cells

    def redraw(self) -> None:
        order = self._order()
        self._texts = self._metric_texts()
        columns = ["", "#", "Run", "Status", "Started", "Duration", *self.metric_columns, "Tags"]
        if order != self._shown or columns != self._columns_shown:
            self._rebuild(order, columns)
            return
        # Only cells whose text changed are touched: live runs update this several times a second.
        for run_id in order:
            old = self._cell_cache.get(run_id, [])
            cells = self._cells(self.runs[run_id])
            for col_index, cell in enumerate(cells):
                if col_index >= len(old) or _same(old[col_index], cell) is False:
                    key = self._column_keys[col_index]
                    if self.columns[key].width < min(MAX_COLUMN, cell_len(_plain(cell))):
                        # Widths are explicit (see _rebuild): a longer cell ("Running" becoming
                        # "Completed") needs the columns measured again, or it is cut short.
                        self._rebuild(order, columns)
                        return
                    self.update_cell(run_id, key, cell, update_width=True)
            self._cell_cache[run_id] = cells

    def _rebuild(self, order: list[str], columns: list[str]) -> None:
        current = self._current_run_id()
        self.clear(columns=True)
        self._column_keys = []
        self._cell_cache = {run_id: self._cells(self.runs[run_id]) for run_id in order}
        for i, title in enumerate(columns):
            key = f"c{i}"
            self._column_keys.append(key)
            # Explicit widths: auto-sizing is skipped while the screen is covered (help, a modal).
            longest = max([cell_len(_plain(cells[i])) for cells in self._cell_cache.values()], default=0)
            label = fmt.user_text(title)   # metric names are column titles
            self.add_column(label, key=key, width=min(MAX_COLUMN, max(label.cell_len, longest)))
        for run_id in order:
            self.add_row(*self._cell_cache[run_id], key=run_id)
        self._shown = order
        self._columns_shown = columns
        if current in order:
            self.move_cursor(row=order.index(current), animate=False)

    def tick(self) -> None:
        """Durations of running runs move every second."""
        if "c5" not in self._column_keys:
            return
        now = self.clock()
        for run_id in self._shown:
            run = self.runs[run_id]
            if run.status in fmt.ACTIVE and run.start_time:
                self.update_cell(run_id, "c5", fmt.run_duration(run.start_time, run.end_time, now))

    def _current_run_id(self) -> str | None:
        if not self._shown or self.cursor_row < 0 or self.cursor_row >= len(self._shown):
            return None
        return self._shown[self.cursor_row]

    @property
    def current(self) -> pb.RunInfo | None:
        run_id = self._current_run_id()
        return self.runs.get(run_id) if run_id else None

    # ------------------------------------------------------------------ actions

    def cycle_sort(self, reverse: bool = False) -> str:
        if reverse:
            self.sort_reverse = not self.sort_reverse
        else:
            keys = self.sort_keys()
            at = keys.index(self.sort_key) if self.sort_key in keys else -1
            self.sort_key = keys[(at + 1) % len(keys)]
        self.redraw()
        return f"sorted by {self.sort_label()} {'↓' if self.sort_reverse else '↑'}"

    def set_filter(self, needle: str) -> None:
        self.needle = needle
        self.redraw()

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=max(0, self.row_count - 1))

    def action_toggle_select(self) -> None:
        run_id = self._current_run_id()
        if run_id is None:
            return
        if run_id in self.selected:
            self.selected.remove(run_id)
        else:
            self.selected.append(run_id)
        self.update_cell(run_id, "c0", "✓" if run_id in self.selected else " ")
        # The cursor stays (`space j space` marks two neighbours, as in every file manager).
        self.post_message(self.SelectionChanged(self, list(self.selected)))

"""The runs of an experiment as a table: live rows updated in place, sort, filter, and a selection
of several runs for compare."""
from __future__ import annotations

import math
from typing import Callable

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from tailrun.v1 import tailrun_pb2 as pb

from .. import fmt
from ..messages import RunSelectionChanged, RunsSorted
from ..run_filter import FilterError, RunFilter, parse

SORT_KEYS = ("number", "status", "start", "duration", "name")
METRIC_SORT = "metric:"   # a sort key naming a metric column: "metric:loss"
# Shift+letter sorts by a column (k9s); the letter is underlined in the column's title. S and G are
# the table's own keys (reverse, last run).
FIXED_LETTERS = {"number": "N", "name": "R", "status": "U", "start": "T", "duration": "D", "tags": "A"}
RESERVED_LETTERS = frozenset("SG")
# The columns below 100 terminal columns, most useful first (the rest are on the run's Overview).
NARROW_WIDTH = 100
COLUMN_TITLES = {"mark": "", "number": "#", "name": "Run", "status": "Status", "start": "Started",
                 "duration": "Duration", "tags": "Tags"}


def run_label(run: pb.RunInfo) -> str:
    return run.display_name or run.run_id


def _tags(run: pb.RunInfo) -> str:
    return " ".join(f"{k}={v}" if v else k for k, v in sorted(run.tags.items()) if not k.startswith("_"))


def metric_letters(names: list[str]) -> dict[str, str]:
    """A free letter of each metric's name for Shift+letter (a name with none free has no letter)."""
    used = set(FIXED_LETTERS.values()) | RESERVED_LETTERS
    out: dict[str, str] = {}
    for name in names:
        letter = next((c.upper() for c in name if c.isascii() and c.isalpha() and c.upper() not in used), None)
        if letter:
            used.add(letter)
            out[name] = letter
    return out


def titled(title: str, letter: str | None) -> Text:
    """A column title with its sort letter underlined (bold and underline: it shows under NO_COLOR)."""
    text = fmt.user_text(title)
    if letter:
        at = title.upper().find(letter)
        if at >= 0:
            text.stylize("underline", at, at + 1)
    return text


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
        self.run_filter = RunFilter()
        self._shown: list[str] = []
        self._columns_shown: list[str] = []
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
        rows = [r for r in self.runs.values() if self.run_filter.matches(r)]
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

    def _cells(self, run: pb.RunInfo, columns: list[str]) -> list[Text | str]:
        """The run's cell of each column id (see `column_ids`)."""
        now = self.clock()
        out: list[Text | str] = []
        for col in columns:
            if col == "mark":
                out.append("✓" if run.run_id in self.selected else " ")
            elif col == "number":
                out.append(str(run.number or ""))
            elif col == "name":
                out.append(fmt.user_text(run_label(run), no_wrap=True, overflow="ellipsis"))
            elif col == "status":
                out.append(fmt.status_styled(run.status))
            elif col == "start":
                out.append(fmt.clock_time(run.start_time or run.created_time, now))
            elif col == "duration":
                out.append(fmt.run_duration(run.start_time, run.end_time, now))
            elif col == "tags":
                out.append(fmt.user_text(_tags(run), no_wrap=True, overflow="ellipsis"))
            else:
                name = col.removeprefix(METRIC_SORT)
                out.append(Text(self._texts.get(name, {}).get(run.run_id, "—"), justify="right"))
        return out

    def column_ids(self, order: list[str]) -> list[str]:
        """Every column, or below 100 terminal columns the most useful ones that fit: the name,
        status and metrics first; the start time and tags go (the run's Overview has them)."""
        ids = ["mark", "number", "name", "status", "start", "duration",
               *(f"{METRIC_SORT}{n}" for n in self.metric_columns), "tags"]
        width = self.app.size.width if self.is_mounted else 0
        if not width or width >= NARROW_WIDTH:
            return ids
        ids = [c for c in ids if c not in ("start", "tags")]
        runs = [self.runs[r] for r in order]

        def needed(cols: list[str]) -> int:
            total = 0
            for i, col in enumerate(cols):
                cells = [_plain(self._cells(run, [col])[0]) for run in runs]
                longest = max([cell_len(c) for c in cells] + [cell_len(COLUMN_TITLES.get(col, col.removeprefix(METRIC_SORT)))])
                total += min(MAX_COLUMN, longest) + 2   # cell padding
            return total

        metrics = [c for c in ids if c.startswith(METRIC_SORT)]
        while len(metrics) > 1 and needed(ids) > width - 2:
            ids.remove(metrics.pop())
        if needed(ids) > width - 2 and "duration" in ids:
            ids.remove("duration")
        return ids

    def redraw(self) -> None:
        order = self._order()
        self._texts = self._metric_texts()
        columns = self.column_ids(order)
        if order != self._shown or columns != self._columns_shown:
            self._rebuild(order, columns)
            return
        # Only cells whose text changed are touched: live runs update this several times a second.
        for run_id in order:
            old = self._cell_cache.get(run_id, [])
            cells = self._cells(self.runs[run_id], columns)
            for col_index, cell in enumerate(cells):
                if col_index >= len(old) or _same(old[col_index], cell) is False:
                    key = columns[col_index]
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
        self._cell_cache = {run_id: self._cells(self.runs[run_id], columns) for run_id in order}
        letters = {key: letter for letter, key in self.sort_letters().items()}
        for i, col in enumerate(columns):
            # Explicit widths: auto-sizing is skipped while the screen is covered (help, a modal).
            longest = max([cell_len(_plain(cells[i])) for cells in self._cell_cache.values()], default=0)
            label = titled(COLUMN_TITLES.get(col, col.removeprefix(METRIC_SORT)), letters.get(col))
            self.add_column(label, key=col, width=min(MAX_COLUMN, max(label.cell_len, longest)))
        for run_id in order:
            self.add_row(*self._cell_cache[run_id], key=run_id)
        self._shown = order
        self._columns_shown = columns
        if current in order:
            self.move_cursor(row=order.index(current), animate=False)

    def on_resize(self) -> None:
        if self.runs:
            self.redraw()   # narrower or wider than 100 columns: other columns

    def tick(self) -> None:
        """Durations of running runs move every second."""
        if "duration" not in self._columns_shown:
            return
        now = self.clock()
        for run_id in self._shown:
            run = self.runs[run_id]
            if run.status in fmt.ACTIVE and run.start_time:
                self.update_cell(run_id, "duration", fmt.run_duration(run.start_time, run.end_time, now))

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

    def set_filter(self, needle: str) -> str | None:
        """Apply the `/` filter; returns what is wrong with it (the last good one stays applied)."""
        try:
            self.run_filter = parse(needle, self.metric_names())
        except FilterError as exc:
            return str(exc)
        self.needle = needle
        self.redraw()
        return None

    def sort_letters(self) -> dict[str, str]:
        """Shift+letter -> sort key, for the columns on screen."""
        out = {letter: key for key, letter in FIXED_LETTERS.items()}
        out.update({letter: f"{METRIC_SORT}{name}" for name, letter in metric_letters(self.metric_columns).items()})
        return out

    def sort_by(self, key: str) -> str:
        """Sort by a column; the same column again reverses (k9s)."""
        if key == self.sort_key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key = key
            self.sort_reverse = key not in ("name", "tags", "status")   # numbers: largest first
        self.redraw()
        return f"sorted by {self.sort_label()} {'↓' if self.sort_reverse else '↑'}"

    def on_key(self, event) -> None:
        key = self.sort_letters().get(event.character or "")
        if key is not None and event.character.isupper():
            event.stop()
            self.post_message(RunsSorted(self, self.sort_by(key)))

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
        if "mark" in self._columns_shown:
            self.update_cell(run_id, "mark", "✓" if run_id in self.selected else " ")
        # The cursor stays (`space j space` marks two neighbours, as in every file manager).
        self.post_message(RunSelectionChanged(self, list(self.selected)))

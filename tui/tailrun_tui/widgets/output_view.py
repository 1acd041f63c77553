"""Output tab (OutputView, over its OutputLog): the live tail of the run's console and `logs/` files.

Follow is on by default; scrolling up pauses it and the header counts "+N new lines"; `f` toggles
and End resumes. Text arrives in batches (the screen drains the Watch feed every 100 ms) and is
deduplicated by byte offset, so a reload and the live stream can overlap safely.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from rich.highlighter import Highlighter
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Log, Static

from tailrun.client import Client
from tailrun.v1 import tailrun_pb2 as pb

from .. import fmt
from ..messages import FilterChanged, OutputLoaded
from .filter_bar import FilterBar, OpensFilterBar
from .run_tab import RunTab

TAIL_BYTES = 256 * 1024
MAX_LINES = 20_000
CONSOLE = ""   # the source key of the console (its path comes from ReadOutput)


MATCH_STYLE = "black on yellow"
# The match n/N moved to: set apart by weight and underline too, so it shows under NO_COLOR.
CURRENT_MATCH_STYLE = "bold underline black on bright_green"


class SearchHighlighter(Highlighter):
    def __init__(self) -> None:
        self.pattern: re.Pattern[str] | None = None
        self.on_current_line = False   # set by OutputLog for the line being drawn

    def highlight(self, text: Text) -> None:
        if self.pattern is not None:
            text.highlight_regex(self.pattern, style=CURRENT_MATCH_STYLE if self.on_current_line else MATCH_STYLE)


class OutputLog(Log):
    """A Log that knows when the user scrolled away from the end: `auto_scroll` (follow) goes off,
    and its view watches it."""

    HELP_TITLE = "Output tab"

    BINDINGS = [
        Binding("end", "follow_end", "Follow", show=False, id="end"),
        Binding("G", "follow_end", "Bottom", show=False, id="bottom"),
        Binding("g", "top", "Top", show=False, id="top"),
        Binding("j", "scroll_down", "Down", show=False, id="down-j"),
        Binding("k", "scroll_up", "Up", show=False, id="up-k"),
    ]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(highlight=True, max_lines=MAX_LINES, auto_scroll=True, id=id)
        self.highlighter = SearchHighlighter()
        self.current_match: int | None = None   # line of the current search match

    def _render_line_strip(self, y: int, rich_style):  # type: ignore[override]
        self.highlighter.on_current_line = y == self.current_match  # type: ignore[attr-defined]
        return super()._render_line_strip(y, rich_style)

    def show_match(self, line: int | None) -> None:
        self.current_match = line
        self._render_line_cache.clear()
        self.refresh()

    def _pause(self) -> None:
        self.auto_scroll = False

    def action_follow_end(self) -> None:
        self.auto_scroll = True
        self.scroll_end(animate=False)

    def action_top(self) -> None:
        self._pause()
        self.scroll_home(animate=False)

    def action_scroll_up(self) -> None:
        self._pause()
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self._pause()
        super().action_page_up()

    def action_scroll_home(self) -> None:
        self._pause()
        super().action_scroll_home()

    def action_scroll_end(self) -> None:
        self.action_follow_end()

    def _on_mouse_scroll_up(self, event) -> None:  # the wheel pauses follow too
        self._pause()


@dataclass
class Source:
    path: str
    next_offset: int = 0
    loaded: bool = False
    pending: list[pb.OutputText] = field(default_factory=list)


class OutputView(OpensFilterBar, RunTab, Vertical):
    HELP_TITLE = "Output tab"
    FOCUS = "#output-log"
    FILTER_BAR = "#output-search"
    BINDINGS = [
        Binding("f", "toggle_follow", "Follow", id="follow", tooltip="Toggle following new output"),
        Binding("slash", "filter", "Search", key_display="/", id="search", tooltip="Search the output", priority=True),
        Binding("n", "next_match", "Next", show=False, id="next-match"),
        Binding("N", "prev_match", "Prev", show=False, id="prev-match"),
        Binding("o", "next_source", "Source", id="source", tooltip="Console, then each logs/ file"),
    ]

    def __init__(self, run_id: str, client: Client, id: str | None = None) -> None:
        super().__init__(run_id, client, id=id)
        self.sources: dict[str, Source] = {CONSOLE: Source("console")}
        self.current = CONSOLE
        self.new_lines = 0
        self.matches: list[int] = []
        self.match_index = -1

    def compose(self) -> ComposeResult:
        yield Static("", id="output-header", classes="tab-header")
        yield Static("waiting for output…", id="output-empty", classes="hint")
        yield OutputLog(id="output-log")
        yield FilterBar("search output…", id="output-search")

    def on_mount(self) -> None:
        self.watch(self.output_log, "auto_scroll", self._follow_changed, init=False)
        self._refresh_header()

    @property
    def output_log(self) -> OutputLog:
        return self.query_one("#output-log", OutputLog)

    # ------------------------------------------------------------------ loading

    def start(self, run: pb.RunInfo) -> None:
        self._load(self.current)

    @work(thread=True, exclusive=True, group="output", exit_on_error=False)
    def _load(self, key: str) -> None:
        if key == CONSOLE:
            text = self.client.read_output(self.run_id, tail_bytes=TAIL_BYTES)
            logs = [f.path for f in self.client.list_files(self.run_id)
                    if f.path.startswith(("logs/", "user_logs/")) and f.path != text.path]
            self.post_message(OutputLoaded(self.run_id, key, text, logs))
            return
        else:
            size = next((f.size for f in self.client.list_files(self.run_id) if f.path == key), 0)
            start = max(0, size - TAIL_BYTES)
            data = self.client.read_file_bytes(self.run_id, key, offset=start)
            text = pb.OutputText(path=key, offset=start, text=data.decode("utf-8", "replace"),
                                 size=start + len(data))
        self.post_message(OutputLoaded(self.run_id, key, text))

    def on_output_loaded(self, message: OutputLoaded) -> None:
        message.stop()
        src = self.sources.setdefault(message.source, Source(message.source))
        for path in message.log_files:
            self.sources.setdefault(path, Source(path))
        if message.source == CONSOLE and message.text.path:
            src.path = message.text.path
        text = message.text.text
        if message.text.offset > 0:   # we started mid-file: drop the partial first line
            cut = text.find("\n")
            text = text[cut + 1:] if cut >= 0 else ""
            skipped = message.text.offset + len(message.text.text.encode()) - len(text.encode())
            text = f"… {fmt.size(skipped)} of earlier output not shown\n" + text
        src.next_offset = message.text.offset + len(message.text.text.encode())
        src.loaded = True
        if message.source == self.current:
            self.output_log.clear()
            self.output_log.write(fmt.user_output(text))
            for item in src.pending:
                self._append(src, item)
        src.pending.clear()
        self._refresh_header()

    def add_output(self, out: pb.OutputText) -> None:
        """Text from Watch for the console or a logs/ file."""
        console = self.sources[CONSOLE]
        key = CONSOLE if (out.path == console.path or (not console.loaded and out.path in
                          ("logs/user_log.txt", "user_logs/std_log.txt"))) else out.path
        if key not in self.sources:
            self.sources[key] = Source(key)
            self._refresh_header()
        src = self.sources[key]
        if not src.loaded:
            src.pending.append(out)
            return
        self._append(src, out)

    def _append(self, src: Source, out: pb.OutputText) -> None:
        data = out.text.encode()
        end = out.offset + len(data)
        if end <= src.next_offset:
            return                         # already shown (reload and stream overlapped)
        if out.offset > src.next_offset:   # we missed some: read the file again from the tail
            src.loaded = False
            self._load(next(key for key, value in self.sources.items() if value is src))
            return
        text = data[src.next_offset - out.offset:].decode("utf-8", "replace")
        src.next_offset = end
        if self.sources.get(self.current) is not src:
            return
        log = self.output_log
        following = log.auto_scroll
        log.write(fmt.user_output(text), scroll_end=following)
        if not following:
            self.new_lines += text.count("\n")
        if self.matches and self.highlighter_pattern():
            self._find_matches(keep_position=True)
        self._refresh_header()

    def highlighter_pattern(self) -> re.Pattern[str] | None:
        return self.output_log.highlighter.pattern  # type: ignore[attr-defined]

    def watch_run_active(self) -> None:
        self._refresh_header()

    # ------------------------------------------------------------------ header

    def _refresh_header(self) -> None:
        try:
            log = self.output_log
        except Exception:
            return
        src = self.sources[self.current]
        console = self.sources[CONSOLE].path
        parts = [(f"console ({console})" if console != "console" else "console") if self.current == CONSOLE
                 else self.current]
        if self.matches:
            parts.append(f"match {self.match_index + 1}/{len(self.matches)} (n/N)")
        elif self.highlighter_pattern() is not None:
            parts.append("no match")
        if log.auto_scroll:
            parts.append("following")
        else:
            parts.append(f"paused · +{self.new_lines:,} new lines (End resumes)" if self.new_lines
                         else "paused (f/End resumes)")
        if len(self.sources) > 1:
            keys = list(self.sources)
            parts.append(f"source {keys.index(self.current) + 1}/{len(keys)} (o)")
        parts.append(f"{log.line_count:,} lines")
        if not self.run_active:
            parts.append("run finished")
        self.query_one("#output-header", Static).update(fmt.user_text(" · ".join(parts)))
        empty = src.loaded and log.line_count == 0
        note = self.query_one("#output-empty", Static)
        note.display = empty or not src.loaded
        note.update("loading…" if not src.loaded else (
            "waiting for output…" if self.run_active else "run finished — it wrote no output here"))
        # The log stays displayed (empty) under the note: hiding it would drop the focus, and the
        # footer with it, every time `o` switches source.

    def _follow_changed(self, following: bool) -> None:
        if following:
            self.new_lines = 0
        self._refresh_header()

    # ------------------------------------------------------------------ actions

    def action_toggle_follow(self) -> None:
        log = self.output_log
        if log.auto_scroll:
            log._pause()
        else:
            log.action_follow_end()

    def action_next_source(self) -> None:
        keys = list(self.sources)
        if len(keys) == 1:
            console = self.sources[CONSOLE].path
            self.notify(f"the console ({fmt.user_plain(console)}) is this run's only log so far",
                        timeout=4, markup=False)
            return
        self.current = keys[(keys.index(self.current) + 1) % len(keys)]
        self.sources[self.current].loaded = False
        self.output_log.clear()
        self.output_log.show_match(None)
        self.new_lines = 0
        self.matches = []
        self._refresh_header()
        self._load(self.current)

    @on(FilterChanged, "#output-search")
    def _search_changed(self, event: FilterChanged) -> None:
        event.stop()
        log = self.output_log
        log.highlighter.pattern = re.compile(re.escape(event.value), re.IGNORECASE) if event.value else None  # type: ignore[attr-defined]
        log._render_line_cache.clear()
        log.refresh()
        self._find_matches()
        if event.final:
            log.focus()

    def _find_matches(self, keep_position: bool = False) -> None:
        pattern = self.highlighter_pattern()
        log = self.output_log
        self.matches = [i for i, line in enumerate(log.lines) if pattern and pattern.search(line)]
        if not keep_position:
            self.match_index = -1
            log.show_match(None)
            if self.matches:
                top = log.scroll_offset.y
                self.match_index = next((k for k, i in enumerate(self.matches) if i >= top), 0)
                self._show_match()
        self._refresh_header()

    def _show_match(self) -> None:
        log = self.output_log
        log._pause()
        line = self.matches[self.match_index]
        log.show_match(line)
        log.scroll_to(y=max(0, line - log.size.height // 2), animate=False)

    def action_next_match(self) -> None:
        if self.matches:
            self.match_index = (self.match_index + 1) % len(self.matches)
            self._show_match()
            self._refresh_header()

    def action_prev_match(self) -> None:
        if self.matches:
            self.match_index = (self.match_index - 1) % len(self.matches)
            self._show_match()
            self._refresh_header()

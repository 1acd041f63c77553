"""`?` / F1: every key of the screen underneath (its own, its widgets', the app's), generated from
the BINDINGS so the help can never disagree with the keys."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

NAV = [
    ("j / k, ↑ / ↓", "move in lists, scroll text"),
    ("enter, click", "open (experiment → runs → run); click the selected row to open it"),
    ("tab / shift+tab", "next / previous pane"),
    ("ctrl+p", "command palette"),
    ("esc", "back, clear a filter, close this help; never quits"),
    ("q, ctrl+q", "quit"),
]


def key_label(binding: Binding, app) -> str:
    return binding.key_display or app.get_key_display(binding)


def own_bindings(cls: type) -> list:
    """BINDINGS of a class and of its tailrun base classes (LiveScreen's `r`, ...)."""
    out: list = []
    for klass in cls.__mro__:
        if klass.__module__.startswith("tailrun_tui") or klass is cls:
            out.extend(klass.__dict__.get("BINDINGS", []))
    return out


def collect(screen: Screen) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section, [(key, description)]) for the screen, every widget on it with bindings, the app."""
    app = screen.app
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    seen: set[tuple[str, str]] = set()

    def add(title: str, bindings) -> None:
        rows = []
        for b in bindings:
            if isinstance(b, tuple):
                b = Binding(*b)
            desc = b.tooltip or b.description or b.action
            item = (key_label(b, app), desc)
            if item in seen or not b.description:
                continue
            seen.add(item)
            rows.append(item)
        if rows:
            sections.append((title, rows))

    add(type(screen).__name__.replace("Screen", "") or "Screen", own_bindings(type(screen)))
    for node in screen.walk_children():
        if type(node).__module__.startswith("tailrun_tui"):
            add(type(node).__name__, own_bindings(type(node)))
    add("Everywhere", app.BINDINGS)
    return sections


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close", id="help-close")]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for title, rows in collect(self.under):
            table.add_row(Text(title, style="bold underline"), "")
            for key, desc in rows:
                table.add_row(key, desc)
            table.add_row("", "")
        table.add_row(Text("Navigation", style="bold underline"), "")
        for key, desc in NAV:
            table.add_row(key, desc)
        with VerticalScroll(id="help-body"):
            yield Static(Text("Keys — esc closes", style="bold"), id="help-title")
            yield Static(table)

    def action_close(self) -> None:
        self.dismiss(None)

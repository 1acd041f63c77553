"""`?` / F1: every key of the screen underneath (its own, its widgets', the app's), generated from
the BINDINGS so the help can never disagree with the keys."""
from __future__ import annotations

import re

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
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


def section_title(cls: type) -> str:
    """What a user calls the part of the screen: a class's HELP_TITLE ("Runs list"), never its name."""
    title = getattr(cls, "HELP_TITLE", "")
    if title:
        return title
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__.removesuffix("Screen").removesuffix("View")).strip()
    return words.capitalize() or "This screen"


def shown(node) -> bool:
    """On the visible part of the screen: a widget of a tab that is not the current one is not."""
    return all(n.display for n in node.ancestors_with_self if isinstance(n, Widget))


def collect(screen: Screen) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section, [(key, description)]) for the screen, every shown widget on it with bindings, the app."""
    app = screen.app
    sections: dict[str, list[tuple[str, str]]] = {}
    seen: set[tuple[str, str]] = set()

    def add(title: str, bindings) -> None:
        rows = sections.setdefault(title, [])
        for b in bindings:
            if isinstance(b, tuple):
                b = Binding(*b)
            desc = b.tooltip or b.description or b.action
            item = (key_label(b, app), desc)
            if item in seen or not b.description:
                continue
            seen.add(item)
            rows.append(item)

    add(section_title(type(screen)), own_bindings(type(screen)))
    for node in screen.walk_children():
        if type(node).__module__.startswith("tailrun_tui") and shown(node):
            add(section_title(type(node)), own_bindings(type(node)))
    add("Everywhere", app.BINDINGS)
    return [(title, rows) for title, rows in sections.items() if rows]


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

"""The `:` command line (CommandBar), which jumps to a view by name (k9s): `:runs`, `:exp NAME`,
`:run ID`, a run's tab (`:metrics`), `:compare`, `:help`, `:q`. Names are resolved against the
service; an unknown one is an error that says what exists, shown under the line (which keeps the
text, to fix it)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static

from tailrun.client import Client
from tailrun.exceptions import AuthenticationError, ServiceError, ServiceUnavailable

from .. import fmt
from ..messages import CommandChosen
from ..worker_errors import ReportsWorkerErrors
from ..worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from ..app import TailrunApp

TABS = ("overview", "metrics", "output", "tables", "images", "files", "system")
COMMANDS = ("experiments", "exp", "runs", "run", "compare", "help", "quit", *TABS)
USAGE = ":exp [NAME] · :runs [EXPERIMENT] · :run ID · :" + " · :".join(TABS[:3]) + "… · :compare · :q"
MAX_LISTED = 8


class CommandError(Exception):
    """A command that cannot be done; the text says why and what exists."""


@dataclass
class Context:
    """Where the command was typed: the experiment and run on screen, the marked runs."""
    experiment: str = ""
    run_id: str = ""
    tabs: tuple[str, ...] = ()
    marked: tuple[str, ...] = ()


def listed(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    return shown + (f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "") if names else "none"


def pick(word: str, names: list[str], what: str) -> str:
    """The name `word` means: itself, else the one name it starts (case-insensitive)."""
    if word in names:
        return word
    found = [n for n in names if n.lower().startswith(word.lower())]
    if len(found) == 1:
        return found[0]
    if found:
        raise CommandError(f"{what} {word!r} could be {listed(found)}")
    raise CommandError(f"no {what} {word!r} ({what}s: {listed(names)})")


def resolve(text: str, ctx: Context, client: Client) -> tuple[str, ...]:
    """A command line to a navigation: ("experiments",), ("runs", exp), ("run", run_id), ("tab", name),
    ("compare", *ids), ("help",), ("quit",). Blocking (asks the service): call from a worker."""
    words = text.strip().lstrip(":").split(maxsplit=1)
    if not words:
        raise CommandError(f"type a command: {USAGE}")
    verb, arg = words[0].lower(), (words[1].strip() if len(words) > 1 else "")
    verb = pick(verb, list(COMMANDS), "command") if verb not in ("q", "q!") else "quit"
    if verb in ("experiments", "exp") and not arg:
        return ("experiments",)
    if verb in ("exp", "runs", "experiments"):
        if not arg:
            if not ctx.experiment:
                raise CommandError("which experiment? `:runs NAME` (or open one first)")
            return ("runs", ctx.experiment)
        names = [e.name for e in client.list_experiments()]
        return ("runs", pick(arg, names, "experiment"))
    if verb == "run":
        if not arg:
            raise CommandError("which run? `:run ID` (a run id, or a run's name or number in this experiment)")
        return ("run", find_run(arg, ctx, client))
    if verb in TABS:
        if not ctx.run_id:
            raise CommandError(f"`:{verb}` is a tab of a run: open a run first (`:run ID`)")
        if verb not in ctx.tabs:
            raise CommandError(f"this run has no {verb} tab (yet): {listed(list(ctx.tabs))}")
        return ("tab", verb)
    if verb == "compare":
        if len(ctx.marked) < 2:
            raise CommandError("mark two or more runs with space on the runs list first")
        return ("compare", *ctx.marked)
    return (verb,)


def find_run(word: str, ctx: Context, client: Client) -> str:
    """A run id; else, among the current experiment's runs, an id prefix, a name or `#N`."""
    try:
        return client.get_run(word).run_id
    except (ServiceUnavailable, AuthenticationError):
        raise
    except ServiceError:
        pass   # not a run id: a prefix, a name or #N of the experiment's runs
    if not ctx.experiment:
        raise CommandError(f"no run {word!r} (give its whole id, or open its experiment first)")
    runs = client.list_runs(experiment=ctx.experiment, include_children=True)
    number = word.removeprefix("#")
    found = [r for r in runs if r.run_id.startswith(word) or r.display_name == word
             or (number.isdigit() and r.number == int(number))]
    if not found:   # the start of a name, when only one name starts so
        found = [r for r in runs if r.display_name.lower().startswith(word.lower())]
    if len(found) == 1:
        return found[0].run_id
    names = [f"#{r.number} {r.display_name or r.run_id[:8]}" for r in found or runs]
    if found:
        raise CommandError(f"run {word!r} could be {listed(names)}")
    raise CommandError(f"no run {word!r} in {ctx.experiment} (runs: {listed(names)})")


class CommandBar(ReportsWorkerErrors, Vertical):
    """The `:` line, docked at the bottom of every data screen (hidden until `:`). It is part of
    the screen, not a dialog, so that it has the focus at once: keys typed right after `:` are its
    text, however fast they come."""
    HELP_TITLE = "Command line"
    BINDINGS = [Binding("escape", "close", "Cancel", id="command-cancel")]

    def compose(self) -> ComposeResult:
        yield Static(fmt.user_text(USAGE), id="command-note", classes="hint")
        yield Input(placeholder="command…", id="command-input",
                    suggester=SuggestFromList(list(COMMANDS), case_sensitive=False))

    def on_mount(self) -> None:
        self.display = False
        self.query_one(Input).can_focus = False   # tab never lands on a hidden line

    @property
    def is_open(self) -> bool:
        return bool(self.display)

    def open(self, ctx: Context) -> None:
        self.ctx = ctx
        line = self.query_one(Input)
        note = self.query_one("#command-note", Static)
        note.update(fmt.user_text(USAGE))
        note.remove_class("-error")
        line.value = ""
        line.can_focus = True
        self.display = True
        self.screen.set_focus(line)   # now, not after the keys already on their way

    def action_close(self) -> None:
        self.display = False
        line = self.query_one(Input)
        line.can_focus = False
        self.screen.set_focus(None)
        self.screen.focus_next()

    @on(Input.Submitted, "#command-input")
    def _submit(self, event: Input.Submitted) -> None:
        event.stop()
        self._resolve(event.value, self.ctx)

    @on(Input.Changed, "#command-input")
    def _typing(self, event: Input.Changed) -> None:
        event.stop()   # not a filter's text

    @work(thread=True, exclusive=True, group="command", exit_on_error=False)
    def _resolve(self, text: str, ctx: Context) -> None:
        client: Client = self.app.client  # type: ignore[attr-defined]
        try:
            target = resolve(text, ctx, client)
        except (CommandError, ServiceError) as exc:
            self.app.call_from_thread(self._error, str(exc))
            return
        self.app.call_from_thread(self._chosen, target)

    def _chosen(self, target: tuple[str, ...]) -> None:
        self.action_close()
        self.post_message(CommandChosen(target))

    def _error(self, text: str) -> None:
        note = self.query_one("#command-note", Static)
        note.update(fmt.user_text(text))
        note.add_class("-error")


def context_of(screen: Screen, app: "TailrunApp") -> Context:
    """What the screen under the `:` line shows."""
    from .run import RunScreen
    from .runs import RunsScreen

    ctx = Context(marked=tuple(app.marked))
    if isinstance(screen, RunsScreen):
        ctx.experiment = screen.experiment
    elif isinstance(screen, RunScreen):
        ctx.run_id = screen.run_id
        ctx.experiment = screen.run.experiment if screen.run else ""
        ctx.tabs = tuple(screen.visible_tabs())
    return ctx


def navigate(app: "TailrunApp", target: tuple[str, ...], on_tab: Callable[[str], None] | None = None) -> None:
    from .compare import CompareScreen
    from .run import RunScreen
    from .runs import RunsScreen

    kind, args = target[0], target[1:]
    if kind == "quit":
        app.exit()
    elif kind == "help":
        app.action_help()
    elif kind == "tab" and on_tab is not None:
        on_tab(args[0])
    elif kind == "experiments":
        app.to_experiments()
    elif kind == "runs":
        app.to_experiments()
        app.push_screen(RunsScreen(args[0]))
    elif kind == "run":
        app.to_experiments()
        app.push_screen(RunScreen(args[0]))   # esc from it shows its experiment's runs
    elif kind == "compare":
        app.push_screen(CompareScreen(list(args)))
    else:   # pragma: no cover - resolve() returns only the kinds above
        raise ValueError(target)

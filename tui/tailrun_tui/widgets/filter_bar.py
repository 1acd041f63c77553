"""The `/` line under a list or a log (FilterBar): Enter keeps the text, Esc restores what was there
before (btop). While it has focus, letters are text, never actions. OpensFilterBar gives its owner the `/` key."""
from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.widgets import Input

from ..messages import FilterChanged


def typing(app) -> bool:
    """An input line has the focus: `/` and `:` are its text, not keys that open a line. (Those
    bindings are priority ones, so that a line opened by them has the focus before the keys
    typed right after reach the widget that had it, as in a real terminal's burst of keys.)"""
    return isinstance(app.focused, Input)


class FilterBar(Input):
    """Sends FilterChanged (not Input.Changed, which it keeps to itself) while open."""
    HELP_TITLE = "Filter line"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="filter-cancel", tooltip="Restore the previous text")]

    def __init__(self, placeholder: str = "filter…", id: str | None = None) -> None:
        super().__init__(placeholder=placeholder, id=id, classes="filter-bar")
        self._before = ""
        self.applied = ""
        self.can_focus = False   # only while open, so auto-focus and tab never land on a hidden bar

    def open(self) -> None:
        self._before = self.applied
        self.add_class("-open")
        self.can_focus = True
        # Now, not after the keys already on their way (a fast `/lr`); the old text is selected:
        # typing replaces it, an arrow key edits it.
        self.screen.set_focus(self)

    def _close(self) -> None:
        # The screen moves focus back to its list when it gets the final FilterChanged.
        self.remove_class("-open")
        self.can_focus = False

    @on(Input.Changed)
    def _typing(self, event: Input.Changed) -> None:
        event.stop()
        if self.has_class("-open"):
            self.post_message(FilterChanged(self, self.value, final=False))

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        event.stop()
        self.applied = self.value
        self._close()
        self.post_message(FilterChanged(self, self.value, final=True))

    def revert(self) -> str:
        """Back to the text applied before this edit (the one typed was refused); returns it."""
        # Not a new filter typed: no FilterChanged for it.
        with self.prevent(Input.Changed):
            self.value = self.applied = self._before
        return self._before

    def clear(self) -> None:
        """No filter, and none to come back to (the owner shows everything again itself)."""
        self.value = self.applied = ""

    def action_cancel(self) -> None:
        self.value = self._before
        self.applied = self._before
        self._close()
        self.post_message(FilterChanged(self, self._before, final=True))


class OpensFilterBar:
    """Mixed into the screen or widget that owns a FilterBar: the action `filter` (bound to `/`) opens
    the bar `FILTER_BAR` names, unless a line already has the focus (then `/` is its text)."""

    FILTER_BAR = "FilterBar"   # a selector

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter":
            return not typing(self.app)  # type: ignore[attr-defined]
        return True

    def action_filter(self) -> None:
        self.query_one(self.FILTER_BAR, FilterBar).open()  # type: ignore[attr-defined]

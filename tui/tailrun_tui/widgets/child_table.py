"""The table of a sweep's trials and of a pipeline's steps: list keys, and enter opens the run."""
from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.widgets import DataTable

from ..messages import OpenRun


class ChildTable(DataTable):
    """A table of child runs with the list keys: j/k move, enter opens the run. A row keyed
    `PLACEHOLDER…` is no run (a pipeline step that has not started): enter does nothing there."""
    PLACEHOLDER = "node:"
    BINDINGS = [Binding("enter", "select_cursor", "Open", id="open", tooltip="Open the run"),
                Binding("j", "cursor_down", "Down", show=False, id="down-j"),
                Binding("k", "cursor_up", "Up", show=False, id="up-k")]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)

    def keep_cursor_on(self, run_id: str | None) -> None:
        """After a rebuild, the cursor stays on the run it was on (a live trial moves)."""
        if run_id is not None and run_id in self.rows:
            self.move_cursor(row=self.get_row_index(run_id), animate=False)

    def cursor_run(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value and not event.row_key.value.startswith(self.PLACEHOLDER):
            self.post_message(OpenRun(event.row_key.value))

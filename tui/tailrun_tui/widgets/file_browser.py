"""Files tab: the run's file tree and a preview of the highlighted file (text, CSV as a table,
JSON, images); `d` downloads it to the current folder. Binary and huge files get a one-line note."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static, Tree

from tailrun.client import Client
from tailrun.run_files import download
from tailrun.v1 import tailrun_pb2 as pb

from .. import fmt
from ..messages import FilePreview, FilesLoaded
from .images_view import image_widget
from .run_tab import RunTab

PREVIEW_BYTES = 256 * 1024
IMAGE_BYTES = 16 * 1024 * 1024
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")
SYNTAX = {".py": "python", ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml",
          ".sh": "bash", ".md": "markdown", ".ini": "ini", ".cfg": "ini"}


TREE_WIDTH = 28   # .side-list is 30 cells with its border; the tree's guides take 4 per level


def _nodes(node):
    yield node
    for child in node.children:
        yield from _nodes(child)


def looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\0" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 4   # a cut multi-byte character at the end is fine
    return False


class FileBrowser(RunTab, Horizontal):
    HELP_TITLE = "Files tab"
    FOCUS = "#file-tree"
    BINDINGS = [
        Binding("d", "download", "Download", id="download", tooltip="Save the file in the current folder"),
    ]

    def __init__(self, run_id: str, client: Client, renderer: str | None = None,
                 id: str | None = None) -> None:
        super().__init__(run_id, client, id=id)
        self.renderer = renderer
        self.files: dict[str, pb.FileInfo] = {}
        self.current: str | None = None

    def compose(self) -> ComposeResult:
        tree: Tree[str] = Tree("files", id="file-tree", classes="side-list")
        tree.show_root = False
        yield tree
        with Vertical(id="file-pane"):
            yield Static("", id="file-header", classes="tab-header")
            yield Static("loading…", id="file-note", classes="hint")
            yield DataTable(id="file-table", zebra_stripes=True)
            with VerticalScroll(id="file-text"):
                yield Static("", id="file-content")
            yield Vertical(id="file-image")

    def on_mount(self) -> None:
        self._mode("note")

    def _mode(self, mode: str) -> None:
        for name in ("note", "table", "text", "image"):
            self.query_one(f"#file-{name}").display = name == mode

    def start(self, run: pb.RunInfo) -> None:
        self.reload()

    def reload(self) -> None:
        self._list()

    @work(thread=True, exclusive=True, group="files", exit_on_error=False)
    def _list(self) -> None:
        self.post_message(FilesLoaded(self.run_id, self.client.list_files(self.run_id)))

    def on_files_loaded(self, message: FilesLoaded) -> None:
        message.stop()
        self.files = {f.path: f for f in message.files}
        self._build_tree()
        if not self.files:
            self._note("This run has no files yet.")
        elif self.current is None:
            self._note("Pick a file on the left (enter), d downloads it.")

    def file_changed(self, info: pb.FileInfo) -> None:
        if not self.started:
            return
        known = info.path in self.files
        self.files[info.path] = info
        if not known:
            self._build_tree()
        if info.path == self.current:
            self._header(info)

    def watch_run_active(self) -> None:
        """A finished run's files are what they are: not "being written"."""
        if self.started:
            self._build_tree()
            if self.current in self.files:
                self._header(self.files[self.current])

    def output_grew(self, path: str, end: int) -> None:
        """Live logs (the console, logs/) grow by Watch output events, not file events: keep
        their size current."""
        info = self.files.get(path)
        if info is None or end <= info.size:
            return
        info.size = end
        self._relabel(path)
        if path == self.current:
            self._header(info)

    def _writing(self, info: pb.FileInfo) -> bool:
        return not info.complete and self.run_active

    def _label(self, path: str, depth: int) -> Text:
        """`name  1.1K`: the size is never cut; a long name is (the header shows it whole)."""
        info = self.files[path]
        name = path.rsplit("/", 1)[-1]
        size = fmt.short_size(info.size) + (" …" if self._writing(info) else "")
        room = max(4, TREE_WIDTH - 4 * depth - len(size) - 2)
        if len(name) > room:
            name = name[: room - 1] + "…"
        return fmt.user_text(f"{name}  {size}")

    def _relabel(self, path: str) -> None:
        tree = self.query_one("#file-tree", Tree)
        for node in _nodes(tree.root):
            if node.data == path:
                node.set_label(self._label(path, path.count("/")))
                return

    def _build_tree(self) -> None:
        tree = self.query_one("#file-tree", Tree)
        tree.clear()
        folders: dict[str, object] = {"": tree.root}
        for path in sorted(self.files):
            parts = path.split("/")
            for depth in range(1, len(parts)):
                folder = "/".join(parts[:depth])
                if folder not in folders:
                    folders[folder] = folders["/".join(parts[:depth - 1])].add(fmt.user_text(parts[depth - 1] + "/"), expand=True)  # type: ignore[attr-defined]
            folders["/".join(parts[:-1])].add_leaf(self._label(path, len(parts) - 1), data=path)  # type: ignore[attr-defined]

    @on(Tree.NodeHighlighted, "#file-tree")
    def _highlighted(self, event: Tree.NodeHighlighted) -> None:
        path = event.node.data
        if path and path != self.current:
            self.current = path
            self._preview(self.files[path])

    @on(Tree.NodeSelected, "#file-tree")
    def _selected(self, event: Tree.NodeSelected) -> None:
        path = event.node.data
        if path:
            self.current = path
            self._preview(self.files[path])

    def _header(self, info: pb.FileInfo) -> None:
        state = " · still being written" if self._writing(info) else ""
        self.query_one("#file-header", Static).update(
            fmt.user_text(f"{info.path} · {fmt.size(info.size)}{state} · d: download"))

    def _note(self, text: str) -> None:
        self.query_one("#file-note", Static).update(fmt.user_text(text))
        self._mode("note")

    def _preview(self, info: pb.FileInfo) -> None:
        self._header(info)
        self._note("loading…")
        self._read(info)

    @work(thread=True, exclusive=True, group="file-preview", exit_on_error=False)
    def _read(self, info: pb.FileInfo) -> None:
        is_image = info.path.lower().endswith(IMAGE_EXT)
        if is_image and info.size > IMAGE_BYTES:
            self.post_message(FilePreview(self.run_id, info, note=f"image too large to draw ({fmt.size(info.size)}) — d downloads it"))
            return
        limit = 0 if is_image else PREVIEW_BYTES
        data = self.client.read_file_bytes(self.run_id, info.path, limit=limit)
        self.post_message(FilePreview(self.run_id, info, data=data, truncated=not is_image and info.size > len(data)))

    def on_file_preview(self, message: FilePreview) -> None:
        message.stop()
        info = message.info
        if info.path != self.current:
            return
        if message.note:
            self._note(message.note)
            return
        lower = info.path.lower()
        if lower.endswith(IMAGE_EXT):
            self._show_image(message.data)
        elif not message.data:
            self._note("empty file")
        elif looks_binary(message.data):
            self._note(f"binary file ({fmt.size(info.size)}) — no preview; d downloads it")
        else:
            text = message.data.decode("utf-8", "replace")
            cut = f"showing the first {fmt.size(len(message.data))} of {fmt.size(info.size)} — d downloads it all" \
                if message.truncated else ""
            if lower.endswith((".csv", ".tsv")) and self._show_csv(text, "\t" if lower.endswith(".tsv") else ",", cut):
                return
            self._show_text(info.path, text, cut)

    def _show_csv(self, text: str, delimiter: str, cut: str) -> bool:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        if cut and rows:
            rows.pop()   # the last row may be cut in the middle
        if not rows:
            return False
        table = self.query_one("#file-table", DataTable)
        table.clear(columns=True)
        width = max(len(r) for r in rows)
        header = rows[0] + [""] * (width - len(rows[0]))
        table.add_columns(*[fmt.user_text(h) for h in header])
        table.add_rows([[fmt.user_text(c) for c in r + [""] * (width - len(r))] for r in rows[1:]])
        self._mode("table")
        if cut:
            self.query_one("#file-header", Static).update(fmt.user_text(f"{self.current} · {cut}"))
        return True

    def _show_text(self, path: str, text: str, cut: str) -> None:
        suffix = Path(path).suffix.lower()
        text = fmt.user_output(text)   # the file is user data: no escape sequence, no markup
        if suffix == ".json" and not cut:
            try:
                text = json.dumps(json.loads(text), indent=2)
            except ValueError:
                cut = "not valid JSON — shown as text"
        content: object = Text(text)
        lexer = SYNTAX.get(suffix)
        if lexer:
            from rich.syntax import Syntax   # pygments is slow to import: only when needed

            content = Syntax(text, lexer, line_numbers=False, word_wrap=False, theme="ansi_dark")
        self.query_one("#file-content", Static).update(content)  # type: ignore[arg-type]
        self._mode("text")
        if cut:
            self.query_one("#file-header", Static).update(fmt.user_text(f"{path} · {cut}"))

    def _show_image(self, data: bytes) -> None:
        holder = self.query_one("#file-image", Vertical)
        holder.remove_children()
        try:
            widget = image_widget(data, self.renderer)
        except Exception as exc:
            self._note(f"cannot display this image: {exc}")
            return
        holder.mount(widget)
        self._mode("image")

    # ------------------------------------------------------------------ download

    def action_download(self) -> None:
        if self.current is None:
            self.notify("Pick a file first", severity="warning")
            return
        self._download(self.current)

    @work(thread=True, exclusive=True, group="download", exit_on_error=False)
    def _download(self, path: str) -> None:
        target = free_path(Path.cwd(), path.rsplit("/", 1)[-1] or "download")
        download(self.client, self.run_id, path, target)
        self.app.call_from_thread(self.notify, f"saved {path} to {target}")


def free_path(folder: Path, name: str) -> Path:
    """`folder/name`, or `name (1)`, `name (2)` … before its extension: a download never
    overwrites a file that is there."""
    target = folder / name
    stem, dot, ext = name.partition(".")
    n = 1
    while target.exists():
        target = folder / f"{stem} ({n}){dot}{ext}"
        n += 1
    return target

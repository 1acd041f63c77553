"""Images tab: `log_image` images drawn in the terminal (textual-image picks sixel, the kitty
protocol or half blocks); an image that cannot be read becomes a one-line note."""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tailrun.client import Client
from tailrun.v1 import tailrun_pb2 as pb

from .. import fmt
from ..messages import ImageLoaded, MetricLoaded
from tailrun.wire import decode_column
from .run_tab import SharedFetchTab

MAX_IMAGE_BYTES = 32 * 1024 * 1024


def uri_to_path(uri: str, run_id: str) -> str:
    """Artifact URIs name a file of the run; accept a bare path or one prefixed by a scheme/run id."""
    path = uri.split("://", 1)[-1]
    if f"{run_id}/" in path:
        path = path.split(f"{run_id}/", 1)[1]
    return path.lstrip("/")


def image_widget(data: bytes, renderer: str | None = None) -> Widget:
    """A textual-image widget for PNG/JPEG/... bytes; raises if the bytes are not an image."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        image = PILImage.open(io.BytesIO(data))
        image.load()
    except UnidentifiedImageError:
        raise ValueError(f"not a readable image ({len(data)} bytes; expected png, jpeg, gif, bmp or webp)") from None
    except OSError as exc:   # truncated or corrupt data: PIL's own words are clear
        raise ValueError(str(exc)) from None
    import textual_image.widget as tiw

    cls = {"halfcell": tiw.HalfcellImage, "unicode": tiw.UnicodeImage}.get(renderer or "", tiw.Image)
    return cls(image, classes="image")


@dataclass
class ImageEntry:
    key: str
    name: str
    path: str
    step: int | None
    time: float = 0.0

    def label(self, now: float) -> str:
        """By step and time, as logged (the n-th image of a metric says nothing)."""
        when = fmt.clock_time(self.time, now)
        return f"{self.name} · step {self.step} · {when}" if self.step is not None else f"{self.name} · {when}"


class ImagesView(SharedFetchTab, Horizontal):
    FOCUS = "#image-list"

    def __init__(self, run_id: str, client: Client, fetch: Callable[[], None],
                 renderer: str | None = None, id: str | None = None) -> None:
        super().__init__(run_id, client, fetch, id=id)
        self.renderer = renderer
        self.entries: dict[str, ImageEntry] = {}
        self.current: str | None = None

    def compose(self) -> ComposeResult:
        yield OptionList(id="image-list", classes="side-list")
        with Vertical(id="image-pane"):
            yield Static("", id="image-header", classes="tab-header")
            yield Static("This run has no images (log_image) yet.", id="image-note", classes="hint")
            yield Vertical(id="image-holder")

    def start(self, run: pb.RunInfo) -> None:
        if not self.entries:
            self._note("This run has no images (log_image) yet.")
        super().start(run)

    def metric_loaded(self, message: MetricLoaded) -> None:
        for chunk in message.chunks:
            self.add_points(chunk, force=True)

    def add_points(self, points: pb.MetricPoints, force: bool = False) -> None:
        if (not self.started and not force) or points.kind != pb.METRIC_KIND_IMAGE or not points.columns:
            return
        uris = decode_column(points.columns[0])
        options = self.query_one("#image-list", OptionList)
        for i, uri in enumerate(uris):
            index = points.first_index + i
            key = f"{points.name}#{index}"
            if key in self.entries or not isinstance(uri, str):
                continue
            step = points.steps[i] if i < len(points.steps) else None
            when = points.times[i] if i < len(points.times) else 0.0
            entry = ImageEntry(key, points.name, uri_to_path(uri, self.run_id), step, when)
            self.entries[key] = entry
            options.add_option(Option(fmt.user_text(entry.label(self.app.clock())), id=key))
            if self.current is None:
                self.current = key
                options.highlighted = 0
                self._load(entry)

    @on(OptionList.OptionHighlighted, "#image-list")
    def _pick(self, event: OptionList.OptionHighlighted) -> None:
        key = event.option.id
        if key and key != self.current and key in self.entries:
            self.current = key
            self._load(self.entries[key])

    def _load(self, entry: ImageEntry) -> None:
        self.query_one("#image-header", Static).update(fmt.user_text(f"{entry.name} · {entry.path}"))
        self._note("loading…")
        self._read(entry)

    @work(thread=True, exclusive=True, group="image", exit_on_error=False)
    def _read(self, entry: ImageEntry) -> None:
        try:
            data = self.client.read_file_bytes(self.run_id, entry.path, limit=MAX_IMAGE_BYTES + 1)
        except Exception as exc:  # the message explains it; a missing file is not a crash
            self.post_message(ImageLoaded(entry.key, note=f"cannot read {entry.path}: {exc}"))
            return
        if len(data) > MAX_IMAGE_BYTES:
            self.post_message(ImageLoaded(entry.key, note=f"{entry.path} is over 32 MiB; not drawn"))
            return
        self.post_message(ImageLoaded(entry.key, data=data))

    def on_image_loaded(self, message: ImageLoaded) -> None:
        message.stop()
        if message.key != self.current:
            return
        holder = self.query_one("#image-holder", Vertical)
        holder.remove_children()
        if message.note:
            self._note(message.note)
            return
        try:
            widget = image_widget(message.data, self.renderer)
        except Exception as exc:  # PIL says why: truncated, not an image, ...
            self._note(f"cannot display this image: {exc}")
            return
        self._note("")
        holder.mount(widget)

    def _note(self, text: str) -> None:
        note = self.query_one("#image-note", Static)
        note.update(fmt.user_text(text))
        note.display = bool(text)

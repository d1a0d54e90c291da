"""Drawing charts (bot/compose/chart.py composes them) as PNG, and remembering them.

Matplotlib is used through ``matplotlib.figure.Figure`` and the Agg canvas only, never pyplot:
no global figure registry, no GUI backend, nothing to leak between renders. Each rendered PNG
is kept per (topic, locale, revision of the facts), and so is the file_id Telegram gives it
once uploaded: an image is drawn and uploaded once, then resent by file_id.
"""

from __future__ import annotations

import io
import textwrap
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.core.domain import Chart

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH_PX, HEIGHT_PX, DPI = 1080, 810, 100
_BAR = "#1f5aa6"
_INK = "#1b1b1b"
_GRID = "#d0d0d0"


def _figure(width_px: int, height_px: int) -> Figure:
    # Imported here: only rendering needs matplotlib, and it costs a noticeable import time.
    from matplotlib.figure import Figure

    return Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, layout="constrained")


def _png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)  # attaches itself: the Agg canvas, whatever the default backend
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def draw_chart(chart: Chart) -> Figure:
    """The chart as a matplotlib Figure (tests read its texts back)."""
    figure = _figure(WIDTH_PX, HEIGHT_PX)
    axes = figure.add_subplot()
    positions = list(range(len(chart.points)))
    values = [p.value for p in chart.points]
    bars = axes.bar(positions, values, width=0.6, color=_BAR, zorder=2)
    axes.bar_label(
        bars, labels=[p.value_label for p in chart.points], padding=6, fontsize=17, color=_INK
    )
    axes.set_xticks(positions, [p.label for p in chart.points], fontsize=17)
    ticks = [value for value, _ in chart.y_ticks]
    axes.set_yticks(ticks, [label for _, label in chart.y_ticks], fontsize=16)
    axes.set_ylim(0, max(ticks[-1], max(values)) * 1.12)
    axes.set_xlabel(chart.x_label, fontsize=19, labelpad=10)
    axes.set_ylabel(chart.y_label, fontsize=19, labelpad=10)
    axes.grid(axis="y", color=_GRID, zorder=0)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.set_title("\n".join(textwrap.wrap(chart.title, 48)), fontsize=25, color=_INK, pad=24)
    return figure


def render_chart(chart: Chart) -> bytes:
    """The chart as a 1080×810 PNG; the figure is cleared once drawn."""
    figure = draw_chart(chart)
    try:
        return _png(figure)
    finally:
        _release(figure)


def render_text_card(title: str, lines: Sequence[str], width_px: int = 1080) -> bytes:
    """A plain card of text (a fact card as a reader sees it), for the README."""
    wrapped = [textwrap.wrap(line, 62) or [""] for line in lines]
    rows = sum(len(w) for w in wrapped)
    height_px = 150 + 42 * rows
    figure = _figure(width_px, height_px)
    try:
        figure.patch.set_facecolor("#f4f6f9")
        top = 1 - 50 / height_px
        figure.text(0.05, top, title, fontsize=26, fontweight="bold", color=_INK, va="top")
        y = top - 80 / height_px
        for paragraph in wrapped:
            for row in paragraph:
                figure.text(0.05, y, row, fontsize=18, color=_INK, va="top")
                y -= 42 / height_px
        return _png(figure)
    finally:
        _release(figure)


def _release(figure: Figure) -> None:
    figure.clear()


class ChartCache:
    """Rendered charts and their Telegram file_ids, least recently used dropped past a bound."""

    def __init__(self, capacity: int = 64) -> None:
        self._capacity = capacity
        self._png: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
        self._file_ids: dict[tuple[str, str, str], str] = {}
        self._lock = threading.Lock()  # renders run in worker threads
        self.renders = 0

    def file_id(self, chart: Chart) -> str | None:
        with self._lock:
            return self._file_ids.get(chart.key)

    def remember(self, chart: Chart, file_id: str) -> None:
        """The file_id Telegram answered for this chart's upload: resent by it from now on."""
        with self._lock:
            self._file_ids[chart.key] = file_id
            # Once Telegram has it, the bytes are not needed again.
            self._png.pop(chart.key, None)

    def forget(self, chart: Chart) -> None:
        """Telegram no longer knows the file_id: the next send uploads again."""
        with self._lock:
            self._file_ids.pop(chart.key, None)

    def png(self, chart: Chart) -> bytes:
        """The PNG, drawn on first use; call it off the event loop."""
        with self._lock:
            cached = self._png.get(chart.key)
            if cached is not None:
                self._png.move_to_end(chart.key)
                return cached
        data = render_chart(chart)
        with self._lock:
            self.renders += 1
            self._png[chart.key] = data
            while len(self._png) > self._capacity:
                self._png.popitem(last=False)
        return data

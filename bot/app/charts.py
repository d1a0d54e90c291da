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

from bot.core.domain import Chart, ChartPanel

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH_PX, HEIGHT_PX, PANEL_PX, DPI = 1080, 810, 540, 100
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


def chart_size(chart: Chart) -> tuple[int, int]:
    """1080×810 for one panel; each further panel adds 540 px of height (1080×1350 for two,
    the 4:5 portrait a phone shows whole)."""
    return WIDTH_PX, HEIGHT_PX + PANEL_PX * (len(chart.panels) - 1)


def draw_chart(chart: Chart) -> Figure:
    """The chart as a matplotlib Figure (tests read its texts back): one axes per panel,
    stacked, each with its own value axis."""
    figure = _figure(*chart_size(chart))
    # No sharey: two quantities (a percentage, an amount) never share a value axis.
    stacked = figure.subplots(len(chart.panels), 1, squeeze=False)[:, 0]
    for axes, panel in zip(stacked, chart.panels, strict=True):
        _draw_panel(axes, panel, chart.x_label)
    title = "\n".join(textwrap.wrap(chart.title, 48))
    figure.suptitle(title, fontsize=25, color=_INK)
    return figure


def _draw_panel(axes: Axes, panel: ChartPanel, x_label: str) -> None:
    # Bars stand at their dates on a time axis: the gaps between figures are shown as they are.
    days = [p.day.toordinal() for p in panel.points]
    span = max(days) - min(days)
    width = span * 0.09
    values = [p.value for p in panel.points]
    bars = axes.bar(days, values, width=width, color=_BAR, zorder=2)
    labels = [_two_lines(p.value_label) for p in panel.points]
    axes.bar_label(bars, labels=labels, padding=6, fontsize=17, color=_INK)
    axes.set_xlim(min(days) - span * 0.25, max(days) + span * 0.25)
    axes.set_xticks(days, [p.label for p in panel.points], fontsize=17)
    ticks = [value for value, _ in panel.y_ticks]
    axes.set_yticks(ticks, [label for _, label in panel.y_ticks], fontsize=16)
    axes.set_ylim(0, max(ticks[-1], max(values)) * 1.12)
    axes.set_xlabel(x_label, fontsize=18, labelpad=8)
    axes.set_ylabel(panel.y_label, fontsize=18, labelpad=10)
    axes.grid(axis="y", color=_GRID, zorder=0)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.set_title("\n".join(textwrap.wrap(panel.title, 56)), fontsize=20, color=_INK, pad=14)


def _two_lines(label: str, longest: int = 22) -> str:
    """A long value label split at the space nearest its middle: "plus de 13 milliards /
    de dollars" stays above its bar instead of running off the picture's edge."""
    if len(label) <= longest or " " not in label:
        return label
    spaces = [i for i, c in enumerate(label) if c == " "]
    cut = min(spaces, key=lambda i: (max(i, len(label) - i - 1), -i))
    return f"{label[:cut]}\n{label[cut + 1 :]}"


def render_chart(chart: Chart) -> bytes:
    """The chart as a PNG of ``chart_size``; the figure is cleared once drawn."""
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

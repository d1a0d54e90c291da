"""Chart rendering's memory: draw 1,000 charts and print the process's RSS before and after.

    python -m bench.charts [--count 1000]

Each render builds a matplotlib Figure on the Agg canvas (bot/app/charts.py) and clears it;
without pyplot nothing keeps a figure alive, so RSS should level off after the first renders
(font caches, Agg buffers) instead of growing with the count.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import time
from pathlib import Path

from bot.app.charts import render_chart
from bot.compose.chart import compose_chart_reply
from bot.content.loader import load_library
from bot.core.domain import TOPICS
from bot.i18n.translator import translator

CONTENT = Path(__file__).resolve().parent.parent / "content"


def rss_mib() -> float:
    """The resident set size now (not the peak), from /proc."""
    fields = Path("/proc/self/status").read_text().split("\n")
    line = next(f for f in fields if f.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    library = load_library(CONTENT)
    charts = [
        chart
        for topic, lang in itertools.product(TOPICS, ("fr", "en"))
        if (chart := compose_chart_reply(library, topic, translator(lang)).chart) is not None
    ]
    render_chart(charts[0])  # imports matplotlib and warms its font cache
    gc.collect()
    before = rss_mib()
    started = time.monotonic()
    sizes = 0
    checkpoints = []
    for n, chart in zip(range(1, args.count + 1), itertools.cycle(charts), strict=False):
        sizes += len(render_chart(chart))
        if n % (args.count // 4 or 1) == 0:
            checkpoints.append((n, rss_mib()))
    elapsed = time.monotonic() - started
    gc.collect()
    after = rss_mib()
    mean = sizes // args.count
    print(f"charts rendered: {args.count} ({len(charts)} distinct, mean PNG {mean} B)")
    print(f"time: {elapsed:.1f} s, {1000 * elapsed / args.count:.1f} ms per chart")
    print(f"RSS before: {before:.1f} MiB (after one warm-up render)")
    for n, rss in checkpoints:
        print(f"RSS after {n}: {rss:.1f} MiB")
    print(f"RSS after: {after:.1f} MiB (growth {after - before:+.1f} MiB)")


if __name__ == "__main__":
    main()

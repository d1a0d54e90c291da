"""The one place the bot reads the wall clock; everything else is handed a ``Clock``.

Business logic that asks for the time takes a ``Clock`` (built once, by the composition root,
from ``system_clock``), so tests, benchmarks and replays run at whatever date they choose.
ruff's banned-api rule (pyproject.toml) keeps ``datetime.now``, ``date.today`` and
``time.time`` out of every other module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    """Now, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)

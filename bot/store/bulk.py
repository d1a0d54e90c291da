"""Loading millions of documents without the cyclic garbage collector in the way.

Each full collection walks every tracked object: loading a million subscriptions (two
million documents, a million Subscription values) set it off again and again, and start-up
went from 8 s at 200,000 subscribers to 160 s at a million. Documents and store values hold no
cycles, so the collector waits while the stores load (``paused_collector``: Services.open and
each namespace's load); post_init then freezes what was loaded (``gc.freeze``), so that later
full collections do not walk it on the bot's event loop either.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextlib.contextmanager
def paused_collector() -> Iterator[None]:
    """No cyclic collection inside (nested uses, from any thread, resume it once at the end)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()

"""The Telegram adapter: the only package that imports ``telegram``."""

import os

# Opt in to python-telegram-bot's timedelta durations (RetryAfter.retry_after and others) now;
# the legacy int form emits a deprecation warning on every flood-control answer.
os.environ.setdefault("PTB_TIMEDELTA", "true")

"""Deep-link payloads, ``t.me/<bot>?start=<payload>``: encoded and parsed here and nowhere else.

Telegram passes 1-64 characters of ``A-Za-z0-9_-`` to ``/start``; anyone can forge one, so a
payload is parsed strictly against the library: an unknown topic or fact is no link at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.core.domain import Library

MAX_PAYLOAD_LENGTH = 64  # Telegram's limit on a start parameter
_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
BRIEF_PREFIX = "brief_"
FACT_PREFIX = "fact_"
SUBSCRIBE = "subscribe"

LinkKind = Literal["brief", "fact", "subscribe"]


@dataclass(frozen=True)
class DeepLink:
    """A parsed start payload: what to open, and which briefing or fact."""

    kind: LinkKind
    target: str = ""

    def encode(self) -> str:
        if self.kind == "subscribe":
            return SUBSCRIBE
        prefix = BRIEF_PREFIX if self.kind == "brief" else FACT_PREFIX
        payload = prefix + self.target
        if not _PAYLOAD.fullmatch(payload):
            raise ValueError(f"not a valid start payload: {payload!r}")
        return payload


def parse_deeplink(payload: str | None, library: Library) -> DeepLink | None:
    """The link a ``/start`` argument names, or None (bad characters, too long, unknown)."""
    if not payload or not _PAYLOAD.fullmatch(payload):
        return None
    if payload == SUBSCRIBE:
        return DeepLink("subscribe")
    if payload.startswith(BRIEF_PREFIX):
        topic = payload.removeprefix(BRIEF_PREFIX)
        return DeepLink("brief", topic) if topic in library.briefings else None
    if payload.startswith(FACT_PREFIX):
        fact_id = payload.removeprefix(FACT_PREFIX)
        return DeepLink("fact", fact_id) if fact_id in library.facts else None
    return None


def linkable_fact(fact_id: str) -> bool:
    """Whether a fact id fits in a start payload (ids are curated; a long one gets no link)."""
    return _PAYLOAD.fullmatch(FACT_PREFIX + fact_id) is not None


def start_url(bot_username: str, link: DeepLink | str) -> str:
    """The t.me link that opens the bot on ``link`` (or on a payload already encoded)."""
    payload = link if isinstance(link, str) else link.encode()
    return f"https://t.me/{bot_username}?start={payload}"

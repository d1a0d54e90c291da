"""Button payloads, ``v1:<verb>:<argument>``: encoded and parsed here and nowhere else.

Telegram gives a button 64 bytes of callback data and sends back whatever a client forges, so
every payload is parsed strictly; the adapter routes each family (:data:`FAMILIES`) by pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.domain import Library

ACTION_VERSION = "v1"
MAX_PAYLOAD_BYTES = 64  # Telegram's limit on callback data
SUBSCRIPTION_VERBS = ("subt", "subz", "set", "unsub", "subtop")
BROADCAST_VERB = "bc"
# The newsroom's buttons, ``v1:nr:<step>:<argument>`` (BOT_ADMIN_IDS only): the candidate
# buttons carry its id, the drafting ones what was picked.
NEWSROOM_VERB = "nr"
NEWSROOM_STEPS: dict[str, str] = {
    "draft": r"[A-Za-z0-9_-]{1,40}",  # the candidate's id
    "discard": r"[A-Za-z0-9_-]{1,40}",
    "later": r"[A-Za-z0-9_-]{1,40}",
    "links": r"[A-Za-z0-9_-]{1,40}",
    "ok": r"[A-Za-z0-9_-]{1,40}",  # approve the draft of this candidate
    "stop": r"[A-Za-z0-9_-]{1,40}",  # drop the draft, the candidate goes back to the queue
    "topic": r"[a-z]{2,16}",
    "status": r"[a-z]{2,16}",
    "edit": r"en|fr|fig|topic|status",
    "older": r"list",
    "match": r"[0-4]|none",
    "fate": r"superseded|denied",
}
_SETTINGS = frozenset({"time", "pause", "resume", "days", "quiet", "unsub"})

# Payload families, as patterns the Telegram adapter routes on. A broadcast button is
# ``v1:bc:<yes|no>:<id>``; a digest button is any payload whose verb is a subscription verb (its
# sender must be allowed to manage the chat's digest before it is even parsed).
BROADCAST_PATTERN = rf"^{ACTION_VERSION}:{BROADCAST_VERB}:[^:]*:[^:]*$"
SUBSCRIPTION_PATTERN = rf"^[^:]*:(?:{'|'.join(SUBSCRIPTION_VERBS)})(?::|$)"
NEWSROOM_PATTERN = rf"^{ACTION_VERSION}:{NEWSROOM_VERB}:"


@dataclass(frozen=True)
class Action:
    """A parsed button payload: ``v1:<verb>:<argument>``."""

    verb: str
    argument: str

    def encode(self) -> str:
        return f"{ACTION_VERSION}:{self.verb}:{self.argument}"


def _ascii_digits(value: str, length: int | None = None) -> bool:
    """str.isdigit() also accepts "²" and other digits int() refuses."""
    return value.isascii() and value.isdigit() and (length is None or len(value) == length)


def parse_action(data: str | None, library: Library) -> Action | None:
    """Strictly parse callback data; anything unknown, stale or forged gives None."""
    if not data or len(data.encode()) > MAX_PAYLOAD_BYTES:
        return None
    parts = data.split(":")
    if len(parts) < 3 or parts[0] != ACTION_VERSION:
        return None
    verb, args = parts[1], parts[2:]
    valid = {
        "brief": len(args) == 1 and args[0] in library.briefings,
        "ask": len(args) == 1 and args[0] in {t.id for t in library.topics},
        "chart": len(args) == 1 and args[0] in {t.id for t in library.topics},
        "subt": len(args) == 1 and _ascii_digits(args[0], 4),
        "subz": len(args) == 2 and _ascii_digits(args[0], 4) and _ascii_digits(args[1]),
        "set": len(args) == 1 and args[0] in _SETTINGS,
        "unsub": len(args) == 1 and args[0] in ("yes", "no"),
        "subtop": len(args) == 1 and args[0] in {t.id for t in library.topics},
        BROADCAST_VERB: len(args) == 2 and args[0] in ("yes", "no") and len(args[1]) == 8,
        NEWSROOM_VERB: len(args) == 2 and _newsroom_step(args[0], args[1]),
    }.get(verb, False)
    return Action(verb, ":".join(args)) if valid else None


def newsroom_action(step: str, argument: str) -> str:
    """The payload of a newsroom button."""
    payload = Action(NEWSROOM_VERB, f"{step}:{argument}").encode()
    if not _newsroom_step(step, argument) or len(payload.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"not a newsroom payload: {payload!r}")
    return payload


def _newsroom_step(step: str, argument: str) -> bool:
    pattern = NEWSROOM_STEPS.get(step)
    return pattern is not None and re.fullmatch(pattern, argument) is not None


def is_subscription_payload(data: str | None) -> bool:
    """A digest button (valid or not): its sender must be allowed to manage the digest."""
    return re.match(SUBSCRIPTION_PATTERN, data or "") is not None

"""Digest timing: parse times and zones, and decide, for a given instant, what a subscriber is due.

Everything here is pure: the clock is an argument. Times are resolved with zoneinfo; a local
time that does not exist (spring forward) is taken as the same wall-clock reading before the
change, which Python's fold=0 rule turns into the first valid instant after it (02:30 becomes
03:30 CEST); a local time that happens twice (fall back) is taken once, at its first occurrence.
Together with the ledger keyed by local date, each local date yields at most one digest.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.core.domain import Lang, Subscription

DEFAULT_ZONES: dict[Lang, str] = {"fr": "Europe/Paris", "en": "UTC"}
COMMON_ZONES = (
    "Europe/Paris",
    "Europe/Brussels",
    "Europe/Zurich",
    "America/Montreal",
    "Europe/London",
    "America/New_York",
    "UTC",
)
TIME_SLOTS = ("06:30", "07:00", "07:30", "08:00", "09:00", "12:00", "18:00", "21:00")
DEFAULT_CATCH_UP = dt.timedelta(hours=6)
# A digest found due this soon after its time is on time, not a catch-up: the sweep runs once a
# minute and may itself start up to 50 s late (its misfire grace, bot/tg/app.py). So even with
# no catch-up at all (DIGEST_CATCH_UP_HOURS=0) every digest of a running bot goes out.
ON_TIME = dt.timedelta(minutes=2)
_TIME = re.compile(r"^(\d{1,2})(?:[:hH.](\d{2})?)?$")

Decision = Literal["send", "skip"]


@dataclass(frozen=True)
class Due:
    """An occurrence of a subscriber's digest: its local date and its instant (UTC)."""

    local_date: dt.date
    instant: dt.datetime


def parse_time(text: str) -> dt.time | None:
    """'07:30', '7h30', '7h', '7.30', '19' -> a time; None when it is not a valid time."""
    match = _TIME.match(text.strip())
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour > 23 or minute > 59:
        return None
    return dt.time(hour, minute)


@cache
def _zones_by_folded_name() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def resolve_zone(text: str) -> str | None:
    """An IANA zone name in any case ('europe/paris') -> its canonical spelling, else None."""
    name = _zones_by_folded_name().get(text.strip().lower())
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def occurrence(sub: Subscription, local_date: dt.date) -> dt.datetime:
    """The UTC instant of the digest on ``local_date`` in the subscriber's zone."""
    local = dt.datetime.combine(local_date, sub.at, tzinfo=ZoneInfo(sub.zone))
    # Round-tripping through UTC normalises a non-existent wall time to a real instant.
    return local.astimezone(dt.UTC)


def _counts(sub: Subscription, local_date: dt.date) -> bool:
    return not (sub.weekdays_only and local_date.weekday() >= 5)


def latest_due(sub: Subscription, now: dt.datetime) -> Due | None:
    """The most recent occurrence at or before ``now`` and after ``sub.since``, if any."""
    today = now.astimezone(ZoneInfo(sub.zone)).date()
    for back in range(8):
        local_date = today - dt.timedelta(days=back)
        if not _counts(sub, local_date):
            continue
        instant = occurrence(sub, local_date)
        if instant > now:
            continue
        if instant <= sub.since:
            return None
        return Due(local_date, instant)
    return None


def decide(
    sub: Subscription,
    now: dt.datetime,
    already: bool,
    catch_up: dt.timedelta = DEFAULT_CATCH_UP,
) -> tuple[Decision, Due] | None:
    """What to do for this subscriber now: send, record as skipped, or nothing.

    ``already`` says whether the ledger holds a final entry for the due local date (sent,
    skipped or blocked). A digest whose time passed while the bot was down is sent late if it
    is still within ``catch_up`` (beyond the ``ON_TIME`` every digest has), otherwise recorded
    as skipped.
    """
    if not sub.active or sub.paused:
        return None
    due = latest_due(sub, now)
    if due is None or already:
        return None
    return ("send" if now - due.instant <= ON_TIME + catch_up else "skip"), due


def next_delivery(sub: Subscription, now: dt.datetime) -> dt.datetime:
    """The next instant strictly after ``now`` at which a digest is due."""
    today = now.astimezone(ZoneInfo(sub.zone)).date()
    for ahead in range(9):
        local_date = today + dt.timedelta(days=ahead)
        if _counts(sub, local_date):
            instant = occurrence(sub, local_date)
            if instant > now:
                return instant
    raise AssertionError("a digest is due within any nine days")

"""Digest timing with a controlled clock: DST both ways, catch-up, weekdays only."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.core.domain import Subscription
from bot.core.schedule import decide, latest_due, next_delivery, parse_time, resolve_zone

UTC = dt.UTC
LONG_AGO = dt.datetime(2026, 1, 1, tzinfo=UTC)


def sub(at: str = "02:30", zone: str = "Europe/Paris", **kw: object) -> Subscription:
    time = parse_time(at)
    assert time is not None
    return Subscription(1, 1, time, zone, "fr", "fr", LONG_AGO, LONG_AGO, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("07:30", dt.time(7, 30)),
        ("7h30", dt.time(7, 30)),
        ("7h", dt.time(7)),
        ("19", dt.time(19)),
        (" 7.05 ", dt.time(7, 5)),
        ("25:99", None),
        ("24:00", None),
        ("7:5", None),
        ("midi", None),
        ("", None),
    ],
)
def test_parse_time(text: str, expected: dt.time | None) -> None:
    assert parse_time(text) == expected


def test_zones_are_iana_names_in_any_case() -> None:
    assert resolve_zone("europe/paris") == "Europe/Paris"
    assert resolve_zone("AMERICA/MONTREAL") == "America/Montreal"
    assert resolve_zone("Mars/Olympus") is None
    assert resolve_zone("../../etc/passwd") is None


def _sweep_minutes(s: Subscription, start: dt.datetime, hours: int) -> list[dt.date]:
    """Run the per-minute decision over a span, with a ledger, as the bot does."""
    ledger: set[dt.date] = set()
    sent = []
    for minute in range(hours * 60):
        now = start + dt.timedelta(minutes=minute)
        decision = decide(s, now, False)
        if decision is None or decision[1].local_date in ledger:
            continue
        action, due = decision
        ledger.add(due.local_date)
        if action == "send":
            sent.append(due.local_date)
    return sent


def test_spring_forward_sends_exactly_once() -> None:
    """02:30 does not exist in Paris on 29 March 2026: the digest goes at 03:30 CEST, once."""
    sent = _sweep_minutes(sub(), dt.datetime(2026, 3, 28, 22, 0, tzinfo=UTC), 30)
    assert sent == [dt.date(2026, 3, 29), dt.date(2026, 3, 30)]  # one per local date
    due = latest_due(sub(), dt.datetime(2026, 3, 29, 2, 0, tzinfo=UTC))
    assert due is not None and due.instant == dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_fall_back_sends_exactly_once() -> None:
    """02:30 happens twice in Paris on 25 October 2026: one digest, at the first one."""
    sent = _sweep_minutes(sub(), dt.datetime(2026, 10, 24, 20, 0, tzinfo=UTC), 30)
    assert sent == [dt.date(2026, 10, 25), dt.date(2026, 10, 26)]  # one per local date
    due = latest_due(sub(), dt.datetime(2026, 10, 25, 3, 0, tzinfo=UTC))
    assert due is not None and due.instant == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_every_day_over_a_week_across_dst() -> None:
    sent = _sweep_minutes(sub("07:00"), dt.datetime(2026, 10, 22, 0, 0, tzinfo=UTC), 24 * 7)
    assert sent == [dt.date(2026, 10, 22) + dt.timedelta(days=d) for d in range(7)]


def test_weekdays_only_skips_the_weekend() -> None:
    s = sub("08:00", weekdays_only=True)
    sent = _sweep_minutes(s, dt.datetime(2026, 11, 20, 0, 0, tzinfo=UTC), 24 * 7)  # Fri..Thu
    assert [d.weekday() for d in sent] == [4, 0, 1, 2, 3]


def test_catch_up_within_the_window_sends_late_once() -> None:
    s = sub("07:00")
    now = dt.datetime(2026, 11, 26, 11, 0, tzinfo=UTC)  # 12:00 in Paris, 5 h late
    assert decide(s, now, False) == ("send", latest_due(s, now))
    assert decide(s, now, True) is None  # already in the ledger


def test_beyond_the_catch_up_window_it_is_skipped() -> None:
    s = sub("07:00")
    now = dt.datetime(2026, 11, 26, 14, 0, tzinfo=UTC)  # 8 h late
    decision = decide(s, now, False)
    assert decision is not None and decision[0] == "skip"
    assert decide(s, now, False, catch_up=dt.timedelta(hours=12)) == ("send", decision[1])


def test_without_catch_up_a_digest_still_goes_out_on_time_but_never_late() -> None:
    """DIGEST_CATCH_UP_HOURS=0: the sweep of the due minute (or one a little late) sends."""
    s = sub("07:00")
    due = dt.datetime(2026, 11, 26, 6, 0, tzinfo=UTC)  # 07:00 in Paris
    none = dt.timedelta(0)
    assert decide(s, due + dt.timedelta(seconds=20), False, catch_up=none) == (
        "send",
        latest_due(s, due),
    )
    assert decide(s, due + dt.timedelta(seconds=110), False, catch_up=none) is not None
    late = decide(s, due + dt.timedelta(minutes=5), False, catch_up=none)
    assert late is not None and late[0] == "skip"


def test_nothing_is_due_before_subscribing_or_while_paused() -> None:
    created = dt.datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    s = Subscription(1, 1, dt.time(7), "Europe/Paris", "fr", "fr", created, created)
    assert decide(s, created + dt.timedelta(hours=1), False) is None
    assert decide(sub("07:00", paused=True), created, False) is None
    assert decide(sub("07:00", active=False), created, False) is None


def test_next_delivery_is_in_the_future_and_local() -> None:
    s = sub("07:30", "America/Montreal", weekdays_only=True)
    friday_evening = dt.datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
    nxt = next_delivery(s, friday_evening)
    assert nxt == dt.datetime(2026, 11, 30, 12, 30, tzinfo=UTC)  # Monday 07:30 EST

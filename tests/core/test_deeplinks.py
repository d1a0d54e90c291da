"""Deep-link payloads: every link the bot emits parses back; anything else is no link."""

from __future__ import annotations

import pytest

from bot.core.deeplinks import DeepLink, linkable_fact, parse_deeplink, start_url
from bot.core.domain import Library


def test_every_briefing_and_fact_round_trips(library: Library) -> None:
    for briefing_id in library.briefings:
        link = DeepLink("brief", briefing_id)
        assert parse_deeplink(link.encode(), library) == link
    for fact_id in library.facts:
        assert linkable_fact(fact_id)
        link = DeepLink("fact", fact_id)
        assert len(link.encode()) <= 64
        assert parse_deeplink(link.encode(), library) == link
    assert parse_deeplink("subscribe", library) == DeepLink("subscribe")


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "",
        "brief_",
        "brief_nope",
        "brief_IPO",
        "fact_no-such-fact",
        "brief ipo",
        "brief_ipo!",
        "brief_ipo\n",
        "fact_" + "a" * 60,
        "x" * 65,
        "<b>",
        "subscribe2",
        "brief_ipo🙂",
        "start",
    ],
)
def test_bad_payloads_are_no_link(library: Library, payload: str | None) -> None:
    assert parse_deeplink(payload, library) is None


def test_url_and_a_payload_that_cannot_be_encoded() -> None:
    assert start_url("x_bot", DeepLink("brief", "ipo")) == "https://t.me/x_bot?start=brief_ipo"
    with pytest.raises(ValueError, match="start payload"):
        DeepLink("fact", "a b").encode()
    assert not linkable_fact("a" * 60)

"""Button payloads (bot/core/actions.py): strict parsing, a round trip for every payload the
bot emits, Telegram's 1-64 byte limit, and the families the adapter routes on."""

from __future__ import annotations

import datetime as dt
import re
from collections import deque

import pytest

from bot.app.services import Services
from bot.core.actions import (
    BROADCAST_PATTERN,
    BROADCAST_VERB,
    MAX_PAYLOAD_BYTES,
    SUBSCRIPTION_PATTERN,
    SUBSCRIPTION_VERBS,
    Action,
    is_subscription_payload,
    parse_action,
)
from bot.core.domain import Library, Reply, Who
from bot.i18n.translator import translator

FORGED = [
    None,
    "",
    "brief:stakes",  # no version
    "v2:brief:stakes",  # another version
    "V1:brief:stakes",
    "v1:brief",  # no argument
    "v1:brief:",  # empty argument
    "v1:brief:nowhere",  # not a briefing
    "v1:brief:stakes:again",  # one argument too many
    "v1:ask:overview",  # a briefing, not a topic one can ask about
    "v1:subt:730",  # HHMM is four digits
    "v1:subt:07300",
    "v1:subt:07²0",  # str.isdigit() says yes, int() says no
    "v1:subt:٠٧٣٠",  # Arabic-Indic digits
    "v1:subz:0730",  # a zone index is missing
    "v1:subz:0730:x",
    "v1:subz:0730:1:2",
    "v1:set:reboot",
    "v1:unsub:maybe",
    "v1:bc:yes",  # no broadcast id
    "v1:bc:yes:abc",  # ids are eight characters
    "v1:bc:maybe:abcd1234",
    "v1:bc:yes:abcd1234:x",
    "v1:zap:stakes",  # no such verb
    "v1::stakes",
    ":::",
]


@pytest.mark.parametrize("data", FORGED)
def test_forged_or_unknown_payloads_give_none(data: str | None, library: Library) -> None:
    assert parse_action(data, library) is None


def test_overlong_payloads_give_none_counting_bytes_not_characters(library: Library) -> None:
    valid = "v1:brief:stakes"
    assert parse_action(valid, library) == Action("brief", "stakes")
    padded = valid + ":" + "x" * (MAX_PAYLOAD_BYTES - len(valid) - 1)
    assert len(padded.encode()) == MAX_PAYLOAD_BYTES  # parsed (and refused for its arity)
    assert parse_action("x" * (MAX_PAYLOAD_BYTES + 1), library) is None
    # 22 characters of three bytes each: 66 bytes, over Telegram's limit.
    assert parse_action("v1:bc:yes:" + "€" * 22, library) is None
    assert parse_action("v1:bc:yes:€€€€€€€€", library) == Action(BROADCAST_VERB, "yes:€€€€€€€€")


def test_valid_payloads_of_each_verb_parse(library: Library) -> None:
    topic = library.topics[0].id
    examples = {
        "v1:brief:overview": Action("brief", "overview"),
        f"v1:ask:{topic}": Action("ask", topic),
        "v1:subt:0730": Action("subt", "0730"),
        "v1:subz:0730:3": Action("subz", "0730:3"),
        "v1:set:pause": Action("set", "pause"),
        "v1:unsub:no": Action("unsub", "no"),
        "v1:bc:no:abcd1234": Action(BROADCAST_VERB, "no:abcd1234"),
    }
    for data, action in examples.items():
        assert parse_action(data, library) == action
        assert action.encode() == data


def _buttons(reply: Reply) -> list[str]:
    return [button.action for row in reply.buttons for button in row]


def _emitted(services: Services) -> set[str]:
    """Every payload the bot's replies carry: from each command's reply, then from the reply
    to each button pressed, until no new payload appears; and the broadcast preview's."""
    router = services.router
    now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    found: set[str] = set()
    queue: deque[str] = deque()

    def collect(reply: Reply) -> None:
        for data in _buttons(reply):
            if data not in found:
                found.add(data)
                queue.append(data)

    for user, lang in ((1, "en"), (2, "fr")):
        who = Who(user, lang)
        for line in (
            "/start",
            "/help",
            "/topics",
            "/sources",
            *(f"/brief {b}" for b in services.library().briefings),
            "/subscribe",
            "/subscribe 07:30 Nowhere/Atlantis",  # unknown zone: the zone buttons
            "/subscribe 07:30 Europe/Paris",
            "/settings",
            "/unsubscribe",
            "What is the weather in Paris?",  # declined, with topic suggestions
        ):
            collect(router.dispatch(who, line))
        collect(services.admin.prepare_broadcast(translator(lang), user, user, "Hello", now))
    while queue:
        collect(router.action(Who(3, "en"), queue.popleft()))
    return found


def test_every_payload_the_bot_emits_parses_back_and_fits_telegram(
    services: Services,
) -> None:
    library = services.library()
    emitted = _emitted(services)
    verbs = {data.split(":")[1] for data in emitted}
    assert verbs == {"brief", "ask", "chart", *SUBSCRIPTION_VERBS, BROADCAST_VERB}, verbs
    for data in emitted:
        assert 1 <= len(data.encode()) <= MAX_PAYLOAD_BYTES, data
        action = parse_action(data, library)
        assert action is not None, data
        assert action.encode() == data


def test_each_emitted_payload_belongs_to_exactly_one_family(services: Services) -> None:
    for data in _emitted(services):
        verb = data.split(":")[1]
        broadcast = re.match(BROADCAST_PATTERN, data) is not None
        subscription = re.match(SUBSCRIPTION_PATTERN, data) is not None
        assert broadcast == (verb == BROADCAST_VERB), data
        assert subscription == (verb in SUBSCRIPTION_VERBS), data
        assert is_subscription_payload(data) == subscription


@pytest.mark.parametrize(
    ("data", "subscription"),
    [
        ("v1:subt:0730", True),
        ("v1:subt", True),  # forged, but its sender is checked before it is parsed
        ("v9:unsub:yes", True),
        ("v1:subtle:0730", False),
        ("v1:settings:x", False),
        ("v1:brief:stakes", False),
        ("v1:bc:yes:abcd1234", False),
        (None, False),
    ],
)
def test_the_subscription_family_is_decided_by_the_verb_alone(
    data: str | None, subscription: bool
) -> None:
    assert is_subscription_payload(data) is subscription

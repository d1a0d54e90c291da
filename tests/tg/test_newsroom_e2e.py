"""The newsroom end to end over real HTTP: a candidate is reviewed in Telegram (/queue, the
guided conversation, the older fact it updates), approved, carried by a subscriber's digest,
and corrected for exactly the readers who had been told the older figure."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from bot.core.candidates import Candidate, Link
from bot.store.candidates import CandidateStore
from bot.tg.delivery import TelegramSender
from tests.support.botapi_double import BotApiDouble, SentMessage
from tests.tg.conftest import Clock, assert_all_accepted, polling, settings_for

pytestmark = pytest.mark.e2e
EDITOR = 4100
OLD = "stakes-microsoft-invested-over-13bn"
READ_BRIEFING, READ_CARD, READ_OTHER, SUBSCRIBER = 51, 52, 53, 54
AT = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)  # after every content date
DELIVERY = dt.datetime(2026, 12, 3, 6, 30, 20, tzinfo=dt.UTC)  # 07:30:20 in Paris


def put_candidate(data_dir: Path) -> Candidate:
    data_dir.mkdir(parents=True, exist_ok=True)
    candidate = Candidate(
        id="c15bn",
        title="Microsoft has now invested $15 billion in OpenAI",
        text="Microsoft has invested $15 billion in OpenAI so far, the Financial Times reported.",
        links=(
            Link(
                "https://www.ft.com/content/microsoft-openai-15bn",
                "Financial Times",
                dt.datetime(2026, 12, 2, 7, 0, tzinfo=dt.UTC),
            ),
        ),
        first_seen=AT,
        matched=("Microsoft has invested $15 billion in OpenAI so far",),
    )
    store = CandidateStore.open(data_dir)
    try:
        store.put(candidate)
    finally:
        store.close()
    return candidate


def button(message: SentMessage, prefix: str) -> str:
    return next(d for d in message.callback_data if d.startswith(prefix))


async def _editor_says(double: BotApiDouble, text: str, count: int) -> SentMessage:
    double.send_text(EDITOR, text, language_code="en")
    return (await double.await_messages(EDITOR, count))[-1]


async def _press(double: BotApiDouble, message: SentMessage, data: str, count: int) -> SentMessage:
    double.press_button(EDITOR, message.message_id, data, language_code="en")
    return (await double.await_messages(EDITOR, count))[-1]


async def test_review_approve_digest_and_correct_only_the_readers_of_the_old_figure(
    double: BotApiDouble, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    put_candidate(data_dir)
    clock = Clock(AT)
    settings = settings_for(double, data_dir, admin_ids=frozenset({EDITOR}))
    async with polling(settings, clock=clock) as app:
        services = app.bot_data.services
        assert services is not None
        # Before the approval: two readers are told the $13 billion figure, one is not.
        double.send_text(READ_BRIEFING, "/brief stakes", language_code="en")
        double.send_text(READ_CARD, f"/start fact_{OLD}", language_code="fr")
        double.send_text(READ_OTHER, "/brief revenue", language_code="en")
        double.send_text(SUBSCRIBER, "/subscribe 07:30 Europe/Paris", language_code="en")
        for chat in (READ_BRIEFING, READ_CARD, READ_OTHER, SUBSCRIBER):
            await double.await_messages(chat, 1)
        assert "$13 billion" in double.messages(READ_BRIEFING)[0].plain_text
        assert "13 milliards" in double.messages(READ_CARD)[0].plain_text
        # A receipt is written once Telegram has answered the send, which can be a moment
        # after the double shows the message: the clock moves on only once both are written.
        for _ in range(500):
            if all(services.receipts.told(c, OLD) for c in (READ_BRIEFING, READ_CARD)):
                break
            await asyncio.sleep(0.01)

        clock.now = AT + dt.timedelta(hours=1)
        card = await _editor_says(double, "/queue", 1)
        assert "Microsoft has now invested $15 billion in OpenAI" in card.plain_text
        assert "Financial Times" in card.plain_text
        topic = await _press(double, card, "v1:nr:draft:c15bn", 2)
        assert "Which topic is it?" in topic.plain_text
        status = await _press(double, topic, "v1:nr:topic:stakes", 3)
        english = await _press(double, status, "v1:nr:status:reported", 4)
        assert "English text" in english.plain_text
        refused = await _editor_says(double, "Microsoft has invested 15 billion dollars.", 5)
        assert "placeholder" in refused.plain_text, "digits in the text are refused"
        await _editor_says(
            double,
            "Microsoft has invested {invested} in OpenAI, according to the Financial Times.",
            6,
        )
        figure = await _editor_says(
            double, "Selon le Financial Times, Microsoft a investi {invested} dans OpenAI.", 7
        )
        assert "{invested}" in figure.plain_text
        unreadable = await _editor_says(double, "money lots", 8)
        assert "could not read" in unreadable.plain_text
        preview = await _editor_says(double, "money 15 billion USD", 9)
        assert "EN: Microsoft has invested $15 billion in OpenAI" in preview.plain_text
        assert "FR : Selon le Financial Times, Microsoft a investi 15 milliards" in (
            preview.plain_text
        )
        older = await _press(double, preview, "v1:nr:older:list", 10)
        draft = services.editorial.draft(EDITOR)
        assert draft is not None and OLD in draft.matches
        fate = await _press(double, older, f"v1:nr:match:{draft.matches.index(OLD)}", 11)
        preview = await _press(double, fate, "v1:nr:fate:superseded", 12)
        assert "It becomes superseded." in preview.plain_text
        approved = await _press(double, preview, "v1:nr:ok:c15bn", 13)
        assert "Approved as stakes-news-c15bn." in approved.plain_text
        assert "Readers owed a correction: 2." in approved.plain_text

        # Exactly the two readers of the old figure get one note each, in their language.
        await double.await_for(
            lambda d: any("finished" in m.plain_text for m in d.messages(EDITOR))
        )
        [_, note_en] = double.messages(READ_BRIEFING)
        assert note_en.plain_text.startswith("Correction")
        assert "You were told: Microsoft has invested more than $13 billion" in note_en.plain_text
        assert "Now known: Microsoft has invested $15 billion in OpenAI" in note_en.plain_text
        assert "ft.com/content/microsoft-openai-15bn" in note_en.plain_text
        [_, note_fr] = double.messages(READ_CARD)
        assert "On vous avait dit" in note_fr.plain_text
        assert "15 milliards" in note_fr.plain_text
        assert len(double.messages(READ_OTHER)) == 1
        assert len(double.messages(SUBSCRIBER)) == 1

        # The subscriber's next digest carries the approved fact; /latest lists it.
        clock.now = DELIVERY
        sent = await services.digests.sweep(TelegramSender(app.bot), DELIVERY)
        assert sent.counts == {"sent": 1}
        digest = (await double.await_messages(SUBSCRIBER, 2))[-1]
        assert "Microsoft has invested $15 billion in OpenAI" in digest.plain_text
        assert "Revised from $13 billion to $15 billion." in digest.plain_text
        double.send_text(READ_OTHER, "/latest", language_code="en")
        latest = (await double.await_messages(READ_OTHER, 2))[-1]
        assert "Latest approved facts" in latest.plain_text
        assert "$15 billion" in latest.plain_text
        # The briefing now shows the new figure in place of the old one.
        double.send_text(READ_OTHER, "/brief stakes", language_code="en")
        brief = (await double.await_messages(READ_OTHER, 3))[-1]
        assert "$15 billion" in brief.plain_text and "$13 billion" not in brief.plain_text
        assert_all_accepted(double)

    # After a restart and a content re-import the approved fact is still served, corrected
    # readers are not corrected again.
    (data_dir / "facts.json").unlink()
    async with polling(settings, clock=clock) as app:
        services = app.bot_data.services
        assert services is not None
        assert "stakes-news-c15bn" in services.library().facts
        assert services.library().facts[OLD].status.value == "superseded"
        assert services.corrections.running() == []
    assert len(double.messages(READ_BRIEFING)) == 2


async def test_readers_cannot_review_and_a_discarded_item_is_not_proposed_again(
    double: BotApiDouble, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    put_candidate(data_dir)
    settings = settings_for(double, data_dir, admin_ids=frozenset({EDITOR}))
    async with polling(settings, clock=Clock(AT)) as app:
        services = app.bot_data.services
        assert services is not None
        double.send_text(READ_OTHER, "/queue", language_code="en")
        [unknown] = await double.await_messages(READ_OTHER, 1)
        assert "I don't know the command /queue" in unknown.plain_text
        card = await _editor_says(double, "/queue", 1)
        double.send_text(READ_OTHER, "/brief", language_code="en")
        [_, overview] = await double.await_messages(READ_OTHER, 2)
        # A reader forging the editor's payload under their own message gets a stale button.
        double.press_button(READ_OTHER, overview.message_id, "v1:nr:discard:c15bn", strict=False)
        [*_, stale] = await double.await_messages(READ_OTHER, 3)
        assert "no longer valid" in stale.plain_text
        candidate = services.candidates.get("c15bn")
        assert candidate is not None and candidate.state == "new"
        done = await _press(double, card, "v1:nr:discard:c15bn", 2)
        assert "Discarded." in done.plain_text and "queue is empty" in done.plain_text
        again = await _editor_says(double, "/queue", 3)
        assert "queue is empty" in again.plain_text
        assert_all_accepted(double)

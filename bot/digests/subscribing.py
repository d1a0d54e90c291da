"""The subscription conversation: /subscribe, /settings, /unsubscribe and their buttons."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from bot.core.actions import Action
from bot.core.domain import Block, Button, Reply, Subscription, Topic
from bot.core.schedule import (
    COMMON_ZONES,
    DEFAULT_ZONES,
    TIME_SLOTS,
    next_delivery,
    parse_time,
    resolve_zone,
)
from bot.i18n.translator import Translator

EXAMPLE = "/subscribe 07:30 Europe/Paris"


class Subscriptions(Protocol):
    def get(self, chat_id: int) -> Subscription | None: ...

    def put(self, sub: Subscription) -> None: ...

    def delete(self, chat_id: int) -> bool: ...


def _slot(at: dt.time) -> str:
    return at.strftime("%H%M")


class Subscribing:
    """Replies for the subscription flow; ``tr`` and the chat come from the conversation."""

    def __init__(
        self,
        store: Subscriptions,
        clock: Callable[[], dt.datetime],
        topics: Callable[[], tuple[Topic, ...]] = tuple,
    ) -> None:
        self._store = store
        self._clock = clock
        self._topics = topics  # a getter: a content reload is seen at the next /settings

    # ---- /subscribe -----------------------------------------------------------------------

    def subscribe(self, tr: Translator, chat_id: int, user_id: int, argument: str) -> Reply:
        parts = argument.split()
        if not parts:
            return self._time_menu(tr)
        at = parse_time(parts[0])
        if at is None:
            text = tr.gettext("“{value}” is not a time of day. For example: {example}").format(
                value=_shorten(parts[0]), example=EXAMPLE
            )
            return Reply(tr.lang, (Block("text", text),))
        zone = DEFAULT_ZONES[tr.lang]
        if len(parts) > 1:
            resolved = resolve_zone(parts[1])
            if resolved is None:
                text = tr.gettext(
                    "I don't know the time zone “{value}”. Use an IANA name such as "
                    "Europe/Paris or America/Montreal. For example: {example}"
                ).format(value=_shorten(parts[1]), example=EXAMPLE)
                return Reply(tr.lang, (Block("text", text),), self._zone_rows(tr, at))
            zone = resolved
        return self._save(tr, chat_id, user_id, at, zone)

    def _time_menu(self, tr: Translator) -> Reply:
        text = tr.gettext("At what time would you like your daily digest?")
        buttons = [
            Button(
                tr.clock_time(parse_time(slot) or dt.time()),
                Action("subt", slot.replace(":", "")).encode(),
            )
            for slot in TIME_SLOTS
        ]
        rows = tuple(tuple(buttons[i : i + 4]) for i in range(0, len(buttons), 4))
        hint = tr.gettext("Or send a time and a zone, for example: {example}").format(
            example=EXAMPLE
        )
        return Reply(tr.lang, (Block("text", text), Block("note", hint)), rows)

    def _zone_rows(self, tr: Translator, at: dt.time) -> tuple[tuple[Button, ...], ...]:
        buttons = [
            Button(zone.replace("_", " "), Action("subz", f"{_slot(at)}:{i}").encode())
            for i, zone in enumerate(COMMON_ZONES)
        ]
        return tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))

    def pick_time(self, tr: Translator, slot: str) -> Reply | None:
        at = parse_time(f"{slot[:2]}:{slot[2:]}") if len(slot) == 4 else None
        if at is None:
            return None
        text = tr.gettext("Which time zone? (digest at {time})").format(time=tr.clock_time(at))
        return Reply(tr.lang, (Block("text", text),), self._zone_rows(tr, at))

    def pick_zone(
        self, tr: Translator, chat_id: int, user_id: int, slot: str, index: str
    ) -> Reply | None:
        at = parse_time(f"{slot[:2]}:{slot[2:]}") if len(slot) == 4 else None
        if at is None or not (index.isascii() and index.isdigit()):
            return None
        if int(index) >= len(COMMON_ZONES):
            return None
        return self._save(tr, chat_id, user_id, at, COMMON_ZONES[int(index)])

    def _save(self, tr: Translator, chat_id: int, user_id: int, at: dt.time, zone: str) -> Reply:
        now = self._clock()
        old = self._store.get(chat_id)
        if old is None:
            sub = Subscription(chat_id, user_id, at, zone, tr.lang, tr.locale, now, now)
        else:
            # A new time starts counting now: no digest for a time already past today.
            sub = replace(
                old,
                at=at,
                zone=zone,
                lang=tr.lang,
                locale=tr.locale,
                since=now,
                paused=False,
                active=True,
            )
        self._store.put(sub)
        text = tr.gettext("Subscribed: every day at {time} ({zone}), in {language}.").format(
            time=tr.clock_time(at), zone=zone, language=_language_name(tr)
        )
        return self._with_settings(tr, sub, (Block("text", text),))

    def follow_language(self, chat_id: int, tr: Translator) -> None:
        sub = self._store.get(chat_id)
        if sub is not None and (sub.lang, sub.locale) != (tr.lang, tr.locale):
            self._store.put(replace(sub, lang=tr.lang, locale=tr.locale))

    def reactivate(self, chat_id: int) -> None:
        """A chat that blocked (or, a group, kicked) the bot and sends /start again gets its
        digests again."""
        sub = self._store.get(chat_id)
        if sub is not None and not sub.active:
            self._store.put(replace(sub, active=True, since=self._clock()))

    # ---- /settings ------------------------------------------------------------------------

    def settings(self, tr: Translator, chat_id: int) -> Reply:
        sub = self._store.get(chat_id)
        if sub is None:
            text = tr.gettext("You have no daily digest yet. Send /subscribe to get one.")
            return Reply(tr.lang, (Block("text", text),))
        lines = [
            Block("title", tr.gettext("Your daily digest")),
            Block(
                "text",
                tr.gettext("Time: {time} ({zone})").format(
                    time=tr.clock_time(sub.at), zone=sub.zone
                ),
            ),
            Block("text", tr.gettext("Language: {language}").format(language=_language_name(tr))),
            Block(
                "text",
                tr.gettext("Days: every day")
                if not sub.weekdays_only
                else tr.gettext("Days: Monday to Friday"),
            ),
            Block(
                "text",
                tr.gettext("When nothing is new: a short note")
                if not sub.skip_empty
                else tr.gettext("When nothing is new: no message"),
            ),
        ]
        if self._topics():
            lines.append(Block("text", self._topics_line(tr, sub)))
        return self._with_settings(tr, sub, tuple(lines))

    def _topics_line(self, tr: Translator, sub: Subscription) -> str:
        chosen = [
            t.label.get(tr.lang)
            for t in self._topics()
            if sub.topics is not None and t.id in sub.topics
        ]
        if sub.topics is None or not chosen:
            return tr.gettext("Topics: all")
        return tr.gettext("Topics: {topics}").format(topics=", ".join(chosen))

    def _topic_rows(self, tr: Translator, sub: Subscription) -> tuple[tuple[Button, ...], ...]:
        """A button per topic: a check mark on those the digest covers; a press toggles."""
        buttons = [
            Button(
                ("✓ " if sub.covers(t.id) else "") + t.label.get(tr.lang),
                Action("subtop", t.id).encode(),
            )
            for t in self._topics()
        ]
        return tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))

    def toggle_topic(self, tr: Translator, chat_id: int, topic: str) -> Reply:
        """Covers ``topic`` or stops covering it; all topics chosen again means every topic,
        and the last one cannot be taken away (a digest of nothing is no digest)."""
        sub = self._store.get(chat_id)
        if sub is None:
            return self.settings(tr, chat_id)
        every = tuple(t.id for t in self._topics())
        chosen = [t for t in every if sub.covers(t)]
        chosen = [t for t in chosen if t != topic] if topic in chosen else [*chosen, topic]
        if chosen:
            ordered = tuple(t for t in every if t in chosen)
            self._store.put(replace(sub, topics=None if ordered == every else ordered))
        return self.settings(tr, chat_id)

    def _with_settings(
        self, tr: Translator, sub: Subscription, blocks: tuple[Block, ...]
    ) -> Reply:
        if not sub.active:
            state = tr.gettext(
                "Deliveries are stopped because Telegram refused them; send /start."
            )
        elif sub.paused:
            state = tr.gettext("Paused. Resume to get your digests again.")
        else:
            state = tr.gettext("Next digest: {moment}.").format(
                moment=tr.moment(next_delivery(sub, self._clock()), sub.zone)
            )
        rows = (
            (
                Button(tr.gettext("Change time"), Action("set", "time").encode()),
                Button(
                    tr.gettext("Resume") if sub.paused else tr.gettext("Pause"),
                    Action("set", "resume" if sub.paused else "pause").encode(),
                ),
            ),
            (
                Button(
                    tr.gettext("Every day") if sub.weekdays_only else tr.gettext("Weekdays only"),
                    Action("set", "days").encode(),
                ),
                Button(
                    tr.gettext("Note on quiet days")
                    if sub.skip_empty
                    else tr.gettext("Skip quiet days"),
                    Action("set", "quiet").encode(),
                ),
            ),
            *self._topic_rows(tr, sub),
            (Button(tr.gettext("Unsubscribe"), Action("set", "unsub").encode()),),
        )
        return Reply(tr.lang, (*blocks, Block("note", state)), rows)

    def setting(self, tr: Translator, chat_id: int, what: str) -> Reply | None:
        sub = self._store.get(chat_id)
        if sub is None:
            return self.settings(tr, chat_id)
        now = self._clock()
        if what == "time":
            return self._time_menu(tr)
        if what == "unsub":
            return self.unsubscribe(tr, chat_id)
        changes = {
            "pause": {"paused": True},
            # Paused days are not caught up: counting starts again now.
            "resume": {"paused": False, "since": now},
            "days": {"weekdays_only": not sub.weekdays_only},
            "quiet": {"skip_empty": not sub.skip_empty},
        }.get(what)
        if changes is None:
            return None
        updated = replace(sub, **changes)  # type: ignore[arg-type]
        self._store.put(updated)
        return self.settings(tr, chat_id)

    # ---- /unsubscribe ---------------------------------------------------------------------

    def unsubscribe(self, tr: Translator, chat_id: int) -> Reply:
        if self._store.get(chat_id) is None:
            text = tr.gettext("You have no daily digest. Send /subscribe to get one.")
            return Reply(tr.lang, (Block("text", text),))
        text = tr.gettext("Stop your daily digest?")
        rows = (
            (
                Button(tr.gettext("Yes, unsubscribe"), Action("unsub", "yes").encode()),
                Button(tr.gettext("No, keep it"), Action("unsub", "no").encode()),
            ),
        )
        return Reply(tr.lang, (Block("text", text),), rows)

    def confirm_unsubscribe(self, tr: Translator, chat_id: int, answer: str) -> Reply | None:
        if answer == "no":
            return self.settings(tr, chat_id)
        if answer != "yes":
            return None
        removed = self._store.delete(chat_id)
        text = (
            tr.gettext("Unsubscribed. Send /subscribe whenever you want it back.")
            if removed
            else tr.gettext("You have no daily digest.")
        )
        return Reply(tr.lang, (Block("text", text),))


def _language_name(tr: Translator) -> str:
    return tr.gettext("English") if tr.lang == "en" else tr.gettext("French")


def _shorten(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"

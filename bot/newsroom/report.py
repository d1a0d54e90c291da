"""/feeds: each feed's status for admins, in their language."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot.core.domain import Block, Reply
from bot.i18n.translator import Translator
from bot.store.feeds import FeedErrorKind, FeedStatus

# Admins read times in UTC, said so: feeds and servers log in UTC, and admins may be anywhere.
ZONE = "UTC"


def _error_words(tr: Translator, kind: FeedErrorKind) -> str:
    words: dict[FeedErrorKind, str] = {
        "timeout": tr.gettext("timed out"),
        "too_large": tr.gettext("answer too large"),
        "http": tr.gettext("HTTP error"),
        "network": tr.gettext("network error"),
        "redirects": tr.gettext("too many redirects"),
        "not_feed": tr.gettext("not a feed (an HTML page?)"),
        "malformed": tr.gettext("malformed feed"),
        "internal": tr.gettext("internal error (see the logs)"),
    }
    return words[kind]


def feeds_reply(
    tr: Translator, statuses: Sequence[FeedStatus] | None, waiting: int, now: dt.datetime
) -> Reply:
    """The feeds' statuses; ``statuses`` is None when the newsroom is off."""
    if statuses is None:
        off = tr.gettext("The newsroom is off: set BOT_NEWSROOM=1, or BOT_FEEDS, and restart.")
        return Reply(tr.lang, (Block("text", off),))
    erring = sum(1 for s in statuses if s.error is not None)
    summary = tr.gettext(
        "{feeds} feeds, {erring} failing; {waiting} candidates waiting for review."
    ).format(feeds=tr.number(len(statuses)), erring=tr.number(erring), waiting=tr.number(waiting))
    blocks = [Block("title", tr.gettext("Feeds")), Block("text", summary)]
    for status in statuses:
        blocks += _feed_blocks(tr, status, now)
    return Reply(tr.lang, tuple(blocks))


def _at(tr: Translator, when: dt.datetime) -> str:
    return f"{tr.moment(when, ZONE)} {ZONE}"


def _feed_blocks(tr: Translator, s: FeedStatus, now: dt.datetime) -> list[Block]:
    blocks = [Block("title", s.name), Block("note", s.url)]
    if s.last_fetch is None:
        blocks.append(Block("text", tr.gettext("Not fetched yet.")))
    else:
        if s.http_status == 304:
            answer = tr.gettext("304, not modified")
        elif s.http_status is not None:
            answer = tr.gettext("HTTP {status}").format(status=s.http_status)
        else:
            answer = tr.gettext("no answer")
        line = tr.gettext("Last fetch: {when}, {answer}; {items} items in the feed.").format(
            when=_at(tr, s.last_fetch), answer=answer, items=tr.number(s.items)
        )
        blocks.append(Block("text", line))
    blocks.append(
        Block(
            "text",
            tr.gettext("New stories from this feed: {count}.").format(
                count=tr.number(s.new_stories)
            ),
        )
    )
    if s.error is not None:
        problem = _error_words(tr, s.error) + (f" ({s.detail})" if s.detail else "")
        blocks.append(
            Block(
                "text",
                tr.gettext("Error: {problem}; {count} in a row.").format(
                    problem=problem, count=tr.number(s.errors)
                ),
            )
        )
    elif s.detail:
        blocks.append(
            Block("note", tr.gettext("Read despite: {warning}").format(warning=s.detail))
        )
    if s.next_poll is None or s.next_poll <= now:
        due = tr.gettext("Next poll: due now.")
    else:
        due = tr.gettext("Next poll: {when}.").format(when=_at(tr, s.next_poll))
    if s.backoff > dt.timedelta(0):
        due += " " + tr.gettext("Backing off {wait} after errors.").format(
            wait=tr.duration(s.backoff)
        )
    blocks.append(Block("text", due))
    if s.moved_to:
        blocks.append(Block("note", tr.gettext("Redirected to {url}").format(url=s.moved_to)))
    return blocks

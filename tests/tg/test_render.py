"""Rendering a reply once: the same reply (or an equal one) gets the same messages and keyboard
back, a different reply its own; the cache stays within its bound."""

from __future__ import annotations

from bot.core.domain import Block, Button, Reply
from bot.tg.render import RenderCache, keyboard, render_html


def _reply(title: str) -> Reply:
    blocks = (Block("title", title), Block("bullet", "5 % < 6 % & more", citations=(1,)))
    return Reply("en", blocks, ((Button("Overview", "v1:brief:overview"),),))


def test_a_reply_is_rendered_once_and_equal_replies_share_it() -> None:
    cache = RenderCache(capacity=4)
    first = cache.get(_reply("Stakes"))
    assert cache.get(_reply("Stakes")) is first, "an equal reply: the same rendering"
    assert ["\n".join(p.markup for p in group) for group in first.groups] == render_html(
        _reply("Stakes")
    )
    assert first.markup == keyboard(_reply("Stakes"))
    other = cache.get(_reply("Revenue"))
    assert other is not first and other.groups[0][0].markup == "<b>Revenue</b>"


def test_the_least_recently_used_rendering_goes_past_the_capacity() -> None:
    cache = RenderCache(capacity=2)
    kept = cache.get(_reply("a"))
    cache.get(_reply("b"))
    cache.get(_reply("a"))  # used again: b is now the oldest
    cache.get(_reply("c"))
    assert len(cache) == 2
    assert cache.get(_reply("a")) is kept

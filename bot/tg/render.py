"""HTML rendering of Replies for Telegram, split under the 4096 UTF-16 unit limit."""

from __future__ import annotations

from collections import OrderedDict
from html import escape
from typing import NamedTuple

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.compose.render_text import block_text
from bot.core.domain import Block, Reply
from bot.core.textsplit import (
    TELEGRAM_TEXT_LIMIT,
    Piece,
    chunk_text,
    pack,
    pack_groups,
    utf16_len,
)


def block_piece(block: Block) -> Piece:
    """Markup and visible text of one block; both must show the same characters."""
    visible = block_text(block)
    text = escape(block.text, quote=False)
    if block.kind == "title":
        markup = f"<b>{text}</b>"
    elif block.kind == "note":
        markup = f"<i>{text}</i>"
    elif block.kind == "bullet":
        cites = "".join(f"[{n}]" for n in block.citations)
        markup = f"• {text} {cites}".rstrip()
    elif block.kind == "source":
        markup = f"[{block.number}] {text}"
        if block.url:
            url = escape(block.url, quote=True)
            markup += f' <a href="{url}">{escape(block.url, quote=False)}</a>'
    else:
        markup = text
    return Piece(markup, visible)


def fit(pieces: list[Piece], limit: int) -> list[Piece]:
    """Pieces no longer than ``limit``: an oversized one is cut into plain-text chunks."""
    fitted: list[Piece] = []
    for piece in pieces:
        if utf16_len(piece.visible) <= limit:
            fitted.append(piece)
        else:
            # Only user-sized text gets here; losing its formatting beats losing its end.
            fitted += [Piece(escape(c, quote=False), c) for c in chunk_text(piece.visible, limit)]
    return fitted


def reply_pieces(reply: Reply) -> list[Piece]:
    return [block_piece(block) for block in reply.blocks]


def render_html(reply: Reply, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """The messages to send for ``reply``, each within ``limit`` visible UTF-16 units."""
    return pack(fit(reply_pieces(reply), limit), limit)


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(button.label, url=button.url)
                if button.url
                else InlineKeyboardButton(button.label, callback_data=button.action)
                for button in row
            ]
            for row in reply.buttons
        ]
    )


class Rendered(NamedTuple):
    """A reply as messages: the pieces of each message, and the keyboard for the last."""

    groups: tuple[tuple[Piece, ...], ...]
    markup: InlineKeyboardMarkup | None


class RenderCache:
    """The rendering of the last ``capacity`` replies. Briefings, /topics and the welcome are
    the same Reply object for every reader of a language (bot/app/replies.py); rendering a
    briefing took 0.2-0.5 ms, as much as sending it. Replies and PTB's keyboards are
    immutable, so a rendering can be shared; keyed by the Reply's value, so a new reply (a
    content reload, an answer) can never get an old rendering."""

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._rendered: OrderedDict[Reply, Rendered] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rendered)

    def get(self, reply: Reply) -> Rendered:
        found = self._rendered.get(reply)
        if found is not None:
            self._rendered.move_to_end(reply)
            return found
        groups = pack_groups(fit(reply_pieces(reply), TELEGRAM_TEXT_LIMIT), TELEGRAM_TEXT_LIMIT)
        rendered = Rendered(tuple(tuple(g) for g in groups), keyboard(reply))
        self._rendered[reply] = rendered
        if len(self._rendered) > self._capacity:
            self._rendered.popitem(last=False)
        return rendered


# One per process, like the catalogs: what it holds depends only on the Reply it is given.
_RENDERED = RenderCache()


def render_reply(reply: Reply) -> Rendered:
    """The messages for ``reply`` within Telegram's limit, and its keyboard (remembered)."""
    return _RENDERED.get(reply)

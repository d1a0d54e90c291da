"""HTML rendering of Replies for Telegram, split under the 4096 UTF-16 unit limit."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.compose.render_text import block_text
from bot.core.domain import Block, Reply
from bot.core.textsplit import TELEGRAM_TEXT_LIMIT, Piece, chunk_text, pack, utf16_len


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

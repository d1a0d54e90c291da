"""Pack rendered blocks into messages under Telegram's limit, counted in UTF-16 code units."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

TELEGRAM_TEXT_LIMIT = 4096


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: characters outside the BMP (emoji) count twice."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Piece:
    """One rendered block: ``markup`` is what is sent, ``visible`` what Telegram counts."""

    markup: str
    visible: str


def pack(pieces: Sequence[Piece], limit: int = TELEGRAM_TEXT_LIMIT, sep: str = "\n") -> list[str]:
    """Join pieces into as few messages as possible, splitting only between pieces.

    A piece that alone exceeds ``limit`` must have been split by the caller first.
    """
    return [sep.join(p.markup for p in group) for group in pack_groups(pieces, limit, sep)]


def pack_groups(
    pieces: Sequence[Piece], limit: int = TELEGRAM_TEXT_LIMIT, sep: str = "\n"
) -> list[list[Piece]]:
    """The pieces of each message, so that a sender can resume after a refused message."""
    messages: list[list[Piece]] = []
    current: list[Piece] = []
    size = 0
    sep_size = utf16_len(sep)
    for piece in pieces:
        piece_size = utf16_len(piece.visible)
        if piece_size > limit:
            raise ValueError(f"a piece of {piece_size} UTF-16 units exceeds the limit {limit}")
        extra = piece_size + (sep_size if current else 0)
        if current and size + extra > limit:
            messages.append(current)
            current, size = [], 0
            extra = piece_size
        current.append(piece)
        size += extra
    if current:
        messages.append(current)
    return messages


def chunk_text(text: str, limit: int) -> list[str]:
    """Cut plain text into chunks of at most ``limit`` UTF-16 units, at spaces when possible."""
    chunks: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        cut = _max_prefix(rest, limit)
        space = rest.rfind(" ", 0, cut)
        if space > cut // 2:
            cut = space
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def _max_prefix(text: str, limit: int) -> int:
    """The longest prefix (in characters) that fits ``limit`` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)

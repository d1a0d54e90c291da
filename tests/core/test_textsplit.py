"""Messages are split between blocks, measured in UTF-16 units as Telegram counts them."""

from __future__ import annotations

import pytest

from bot.core.textsplit import Piece, chunk_text, pack, utf16_len


def test_emoji_count_twice() -> None:
    assert utf16_len("a😀é") == 4


def test_pack_keeps_blocks_whole_and_under_the_limit() -> None:
    pieces = [Piece(f"<b>{i}</b>" + "x" * 9, str(i) + "x" * 9) for i in range(10)]
    messages = pack(pieces, limit=35)
    assert len(messages) == 4
    assert all(m.count("<b>") == m.count("</b>") for m in messages)
    assert "".join(messages).count("<b>") == 10


def test_pack_counts_emoji_as_two_units() -> None:
    pieces = [Piece("😀" * 10, "😀" * 10), Piece("a", "a")]
    assert len(pack(pieces, limit=21)) == 2
    assert len(pack(pieces, limit=22)) == 1


def test_oversized_piece_is_refused() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        pack([Piece("x" * 11, "x" * 11)], limit=10)


def test_chunk_text_cuts_at_spaces_and_never_splits_a_surrogate_pair() -> None:
    text = ("mot " * 30) + "😀" * 50
    chunks = chunk_text(text, 40)
    assert all(utf16_len(c) <= 40 for c in chunks)
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")
    assert not chunks[0].endswith("mo")

"""Plain-text rendering of Replies, for the console and the command line."""

from __future__ import annotations

from bot.core.domain import Block, Reply


def block_text(block: Block) -> str:
    """The visible text of a block, the same characters the HTML renderer shows."""
    cites = "".join(f"[{n}]" for n in block.citations)
    if block.kind == "bullet":
        return f"• {block.text} {cites}".rstrip()
    if block.kind == "source":
        url = f" {block.url}" if block.url else ""
        return f"[{block.number}] {block.text}{url}"
    return block.text


def render_plain(reply: Reply) -> str:
    """The reply's text; buttons are left to the adapter that can offer them."""
    return "\n".join(block_text(block) for block in reply.blocks)

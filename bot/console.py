"""A terminal chat that runs the same conversation as Telegram, rendered as plain text."""

from __future__ import annotations

import locale
import os
import sys
from collections.abc import Iterable
from typing import TextIO

from bot.app.router import Router
from bot.compose.render_text import render_plain
from bot.core.domain import Button, Reply, Who

CONSOLE_USER_ID = 0


def console_who() -> Who:
    """The terminal user; their language_code comes from the environment's locale."""
    code = os.environ.get("LC_ALL") or os.environ.get("LANG") or locale.getlocale()[0] or ""
    return Who(CONSOLE_USER_ID, code.split(".")[0].replace("_", "-") or None)


def show(reply: Reply, out: TextIO) -> list[Button]:
    """Print the reply; buttons become numbered choices the user can type."""
    out.write(render_plain(reply) + "\n")
    buttons = [button for row in reply.buttons for button in row if not button.url]
    for link in (button for row in reply.buttons for button in row if button.url):
        out.write(f"{link.label}: {link.url}\n")  # a terminal opens no link: shown as is
    if buttons:
        out.write("  ".join(f"({i}) {b.label}" for i, b in enumerate(buttons, 1)) + "\n")
    return buttons


def run_console(
    conversation: Router,
    lines: Iterable[str] | None = None,
    out: TextIO = sys.stdout,
    who: Who | None = None,
) -> int:
    """Read lines until EOF, /quit or /exit; a number presses the matching button."""
    who = who or console_who()
    buttons = show(conversation.start(who), out)
    source = _prompt_lines(out) if lines is None else lines
    for line in source:
        stripped = line.strip()
        if stripped in ("/quit", "/exit"):
            break
        if stripped.isdigit() and 1 <= int(stripped) <= len(buttons):
            reply = conversation.action(who, buttons[int(stripped) - 1].action)
        else:
            reply = conversation.dispatch(who, line)
        out.write("\n")
        buttons = show(reply, out)
    return 0


def _prompt_lines(out: TextIO) -> Iterable[str]:
    while True:
        try:
            yield input("> ")
        except (EOFError, KeyboardInterrupt):
            out.write("\n")
            return

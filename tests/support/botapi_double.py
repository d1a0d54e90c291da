"""A test double of the Telegram Bot API that serves real HTTP on 127.0.0.1.

The real python-telegram-bot ``Application`` (long polling) or ``Bot`` talks to it unchanged::

    with BotApiDouble() as double:
        app = ApplicationBuilder().token(double.token).base_url(double.base_url).build()
        ...  # start the application
        double.send_text(42, "/start")
        [reply] = await double.await_messages(42, 1)

Behaviour mirrored from Telegram, so that bugs in the bot fail tests:

* Requests go to ``/bot<token>/<method>``. A wrong token answers 401 ``Unauthorized``, an unknown
  method 404 ``Not Found``; method names are case-insensitive. JSON, urlencoded and multipart
  bodies and query strings are accepted; fields that PTB sends as JSON-encoded strings
  (``reply_markup``, ``entities``, ``commands``, ``scope`` ...) and numbers or booleans sent as
  strings are decoded, so :attr:`Call.params` is the same whichever encoding the client used.
* ``getUpdates`` confirms updates below ``offset`` (a negative offset keeps only the last ones),
  honours ``limit`` (clamped to 1-100), long-polls up to ``timeout`` seconds and answers the older
  of two overlapping polls with 409 ``Conflict``. ``allowed_updates`` persists between calls and,
  as on Telegram, filters updates when they are created (see :meth:`BotApiDouble.dropped_updates`).
  Chat member and reaction updates are not delivered unless asked for.
* Text is parsed with Telegram's HTML, MarkdownV2 and legacy Markdown rules, ported from TDLib
  (the library the Bot API server runs), into plain text and entities with UTF-16 offsets.
  Parse errors carry Telegram's descriptions with UTF-8 byte offsets. Surrounding whitespace is
  trimmed, then the 4096 limit is checked in UTF-16 code units. Unknown named HTML entities such
  as ``&nbsp;`` stay literal text, as on Telegram.
* Inline keyboards, callback queries, bot commands, blocked users, unknown chats, message edits
  and deletion answer with Telegram's error codes and descriptions. Opt-in flood control applies
  Telegram's documented send limits to ``sendMessage``.

Faults are injectable per method (:meth:`BotApiDouble.fail_next`, :meth:`BotApiDouble.delay_next`,
:meth:`BotApiDouble.reset_next`), and everything the bot did is observable and awaitable
(:meth:`BotApiDouble.calls`, :meth:`BotApiDouble.messages`, :meth:`BotApiDouble.wait_for`,
:meth:`BotApiDouble.await_for`). All public methods are thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import http
import itertools
import json
import math
import re
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Self, cast
from urllib.parse import parse_qsl, urlsplit

import httpx

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "BotApiDouble",
    "Call",
    "CallbackAnswer",
    "Draft",
    "SentMessage",
    "UploadedFile",
    "parse_text",
    "utf16_len",
]

JSON = dict[str, Any]
MethodHandler = Callable[[JSON], Any]

DEFAULT_TOKEN: Final = "123456:TEST-token-abcdef"
DEFAULT_BOT_USERNAME: Final = "partnerbrief_test_bot"
DEFAULT_BOT_FIRST_NAME: Final = "PartnerBrief Test"

MAX_MESSAGE_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024
MAX_PHOTO_BYTES: Final = 10 * 1024 * 1024
WRONG_FILE_ID: Final = "wrong file identifier/HTTP URL specified"
MAX_CALLBACK_DATA_BYTES: Final = 64
MAX_CALLBACK_ANSWER_LENGTH: Final = 200
MAX_INLINE_RESULTS: Final = 50
MAX_INLINE_RESULT_ID_BYTES: Final = 64
MAX_COMMANDS: Final = 100
MAX_COMMAND_LENGTH: Final = 32
MAX_COMMAND_DESCRIPTION_LENGTH: Final = 256

CONFLICT_POLL: Final = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
CONFLICT_WEBHOOK: Final = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD: Final = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)

# Telegram leaves these out unless allowed_updates names them explicitly.
_OPT_IN_UPDATES: Final = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_ADMIN_RIGHTS: Final = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)
_CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_SCOPE_TYPES: Final = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_BUTTON_ACTIONS: Final = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

# Parameters whose values are JSON objects or arrays; form bodies carry them JSON-encoded.
_JSON_FIELDS: Final = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "allowed_updates",
        "reply_parameters",
        "link_preview_options",
        "media",
        "results",
        "message_ids",
        "menu_button",
    }
)
_INT_FIELDS: Final = frozenset(
    {
        "message_id",
        "offset",
        "limit",
        "draft_id",
        "user_id",
        "message_thread_id",
        "reply_to_message_id",
        "cache_time",
        "max_connections",
    }
)
_FLOAT_FIELDS: Final = frozenset({"timeout"})
_BOOL_FIELDS: Final = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "allow_paid_broadcast",
        "is_personal",
    }
)


class ApiError(Exception):
    """An unsuccessful Bot API answer; custom method handlers may raise it."""

    def __init__(self, error_code: int, description: str, *, retry_after: int | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JSON:
        """The JSON body Telegram sends for this error."""
        payload: JSON = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.retry_after is not None:
            payload["parameters"] = {"retry_after": self.retry_after}
        return payload


def _bad_request(text: str) -> ApiError:
    return ApiError(400, f"Bad Request: {text}")


def _entity_error(text: str) -> ApiError:
    return _bad_request(f"can't parse entities: {text}")


# --------------------------------------------------------------------------------------------
# Records handed to tests
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request to the Bot API and its answer.

    ``method`` is the canonical spelling (``sendMessage``) for known methods. ``params`` holds the
    decoded parameters. ``time`` is ``time.monotonic()`` when the request arrived. ``fault`` names
    the injected fault (``"fail"``, ``"delay"`` or ``"reset"``) that shaped the answer, if any; a
    reset call never reached the client, whatever ``ok`` says.
    """

    method: str
    params: JSON
    time: float
    ok: bool
    error_code: int | None = None
    description: str | None = None
    result: Any = None
    fault: str | None = None


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the bot sent, in its latest version.

    ``text`` and ``parse_mode`` are as the bot sent them; ``plain_text`` and ``entities`` are the
    parsed result Telegram shows. ``reply_markup`` is the markup as sent (any keyboard type); only
    inline keyboards become part of the message JSON. Each edit produces a new version; earlier
    versions, oldest first, are kept in ``history``. Deleted messages keep their last version with
    ``deleted=True``.
    """

    message_id: int
    chat_id: int
    text: str
    parse_mode: str | None
    plain_text: str
    entities: tuple[JSON, ...]
    reply_markup: JSON | None
    date: int
    reply_to_message_id: int | None = None
    edit_date: int | None = None
    deleted: bool = False
    history: tuple[SentMessage, ...] = ()

    @property
    def inline_keyboard(self) -> list[list[JSON]]:
        """The inline keyboard rows, empty when the message has none."""
        if self.reply_markup is None:
            return []
        return cast("list[list[JSON]]", self.reply_markup.get("inline_keyboard", []))

    @property
    def callback_data(self) -> list[str]:
        """The callback_data of every inline button, row by row."""
        return [
            button["callback_data"]
            for row in self.inline_keyboard
            for button in row
            if "callback_data" in button
        ]


@dataclass(frozen=True, slots=True)
class SentPhoto:
    """A photo the bot sent: ``uploaded`` holds the bytes when it came as a multipart upload,
    None when the bot named an earlier photo by its ``file_id``."""

    message_id: int
    chat_id: int
    file_id: str
    uploaded: bytes | None
    width: int
    height: int
    caption: str
    parse_mode: str | None
    plain_caption: str
    caption_entities: tuple[JSON, ...]
    reply_markup: JSON | None


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG or JPEG, None for anything else (Telegram cannot process it)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        pos = 2
        while pos + 9 < len(data):
            if data[pos] != 0xFF:
                return None
            marker, length = data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
                return int(width), int(height)
            pos += 2 + length
    return None


@dataclass(frozen=True, slots=True)
class Draft:
    """One sendMessageDraft call that Telegram accepted."""

    chat_id: int
    draft_id: int
    text: str
    parse_mode: str | None
    plain_text: str
    time: float


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    """One accepted answerCallbackQuery call."""

    query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None


# --------------------------------------------------------------------------------------------
# Text parsing (ported from TDLib's parse_html, parse_markdown_v2 and parse_markdown)
# --------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit Telegram counts limits and offsets in."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


class _Out:
    """Plain text being built, with its running UTF-16 length."""

    __slots__ = ("length", "parts")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0

    def add(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.length += utf16_len(chunk)

    def since(self, index: int) -> str:
        return "".join(self.parts[index:])

    def text(self) -> str:
        return "".join(self.parts)


def _entity(kind: str, offset: int, length: int, **extra: Any) -> JSON:
    return {"type": kind, "offset": offset, "length": length, **extra}


def _checked_link(url: str) -> str | None:
    """Approximates TDLib's LinkManager::get_checked_link: a normalized URL or None."""
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return None
    scheme, sep, rest = url.partition("://")
    if sep:
        if scheme.lower() not in {"http", "https", "tg", "ton", "ftp"} or not rest:
            return None
    elif re.match(r"^[\w-]+(\.[\w-]+)*\.[a-z]{2,}(?:[/:?#]|$)", url, re.IGNORECASE):
        url = f"http://{url}"
    else:
        return None
    if re.fullmatch(r"https?://[^/?#]+", url, re.IGNORECASE):
        url += "/"
    return url


_TRIMMED: Final = " \t\n\r\v\f"


def _trim(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Strips surrounding whitespace as Telegram does and clips entities to what remains."""
    left_stripped = text.lstrip(_TRIMMED)
    stripped = left_stripped.rstrip(_TRIMMED)
    if len(stripped) == len(text):
        return text, entities
    left = len(text) - len(left_stripped)  # the trimmed characters are one UTF-16 unit each
    total = utf16_len(stripped)
    clipped: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"] - left, 0)
        end = min(entity["offset"] + entity["length"] - left, total)
        if end > start:
            clipped.append({**entity, "offset": start, "length": end - start})
    return stripped, clipped


def _finish(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    text, entities = _trim(text, entities)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return text, entities


_HTML_SPECIAL: Final = re.compile(r"[<&]")
_SPACES: Final = frozenset(" \t\r\n\v\f\0")
_NAME_TOKEN: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_HTML_TAGS: Final = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_HTML_SIMPLE: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED_ENTITIES: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _decode_html_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decodes the character reference at ``text[pos] == '&'``; None keeps '&' literal."""
    n = len(text)
    end = pos + 1
    if end < n and text[end] == "#":
        end += 1
        if end < n and text[end] == "x":
            end += 1
            start = end
            while end < n and text[end] in _HEX:
                end += 1
            base = 16
        else:
            start = end
            while end < n and text[end].isascii() and text[end].isdigit():
                end += 1
            base = 10
        if end - pos >= 10 or end == start:
            return None
        code = int(text[start:end], base)
        if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        char = chr(code)
    else:
        while end < n and text[end].isascii() and text[end].isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(text[pos + 1 : end])
        if named is None:
            return None
        char = named
    if end < n and text[end] == ";":
        end += 1
    return char, end


@dataclass(slots=True)
class _OpenTag:
    name: str
    argument: str
    offset: int
    part_index: int
    expandable: bool


def parse_html(text: str) -> tuple[str, list[JSON]]:
    """Parses Telegram HTML into plain text and entities, or raises :class:`ApiError`."""
    out = _Out()
    entities: list[JSON] = []
    stack: list[_OpenTag] = []
    n = len(text)
    i = 0
    while i < n:
        match = _HTML_SPECIAL.search(text, i)
        j = match.start() if match else n
        if j > i:
            out.add(text[i:j])
            i = j
            if i >= n:
                break
        if text[i] == "&":
            decoded = _decode_html_entity(text, i)
            if decoded is None:
                out.add("&")
                i += 1
            else:
                out.add(decoded[0])
                i = decoded[1]
            continue
        if i + 1 < n and text[i + 1] == "/":
            i = _html_end_tag(text, i, stack, out, entities)
        else:
            i = _html_start_tag(text, i, stack, out)
    if stack:
        raise _entity_error(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    for entity in entities:
        entity.pop("_language", None)
    return _finish(out.text(), entities)


def _html_start_tag(text: str, begin: int, stack: list[_OpenTag], out: _Out) -> int:
    n = len(text)
    offset = _byte_offset(text, begin)
    i = begin + 1
    while i < n and text[i] not in _SPACES and text[i] != ">":
        i += 1
    if i >= n:
        raise _entity_error(f"Unclosed start tag at byte offset {offset}")
    name = text[begin + 1 : i].lower()
    if name not in _HTML_TAGS:
        raise _entity_error(f'Unsupported start tag "{name}" at byte offset {offset}')
    argument = ""
    expandable = False
    while text[i] != ">":
        while i < n and text[i] in _SPACES:
            i += 1
        if i >= n:
            raise _entity_error(f'Unclosed start tag "{name}" at byte offset {offset}')
        if text[i] == ">":
            break
        attr_begin = i
        while i < n and text[i] not in _SPACES and text[i] not in "=>":
            i += 1
        attribute = text[attr_begin:i]
        if not attribute:
            raise _entity_error(
                f'Empty attribute name in the tag "{name}" at byte offset {offset}'
            )
        while i < n and text[i] in _SPACES:
            i += 1
        if i >= n:
            raise _entity_error(f'Unclosed start tag "{name}" at byte offset {offset}')
        if text[i] != "=":
            # Bot API 7.x added the value-less `expandable` attribute; anything else is an error.
            if name == "blockquote" and attribute == "expandable":
                expandable = True
                continue
            raise _entity_error(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{name}" at byte offset {offset}'
            )
        i += 1
        while i < n and text[i] in _SPACES:
            i += 1
        if i >= n:
            raise _entity_error(f'Unclosed start tag "{name}" at byte offset {offset}')
        if text[i] not in "\"'":
            token_begin = i
            while i < n and text[i] in _NAME_TOKEN:
                i += 1
            value = text[token_begin:i].lower()
            if i < n and text[i] not in _SPACES and text[i] != ">":
                token_offset = _byte_offset(text, token_begin)
                raise _entity_error(f"Unexpected end of name token at byte offset {token_offset}")
        else:
            quote = text[i]
            i += 1
            chars: list[str] = []
            while i < n and text[i] != quote:
                if text[i] == "&":
                    decoded = _decode_html_entity(text, i)
                    if decoded is not None:
                        chars.append(decoded[0])
                        i = decoded[1]
                        continue
                chars.append(text[i])
                i += 1
            if i < n:
                i += 1
            value = "".join(chars)
        if i >= n:
            raise _entity_error(f"Unclosed start tag at byte offset {offset}")
        if name == "a" and attribute == "href":
            argument = value
        elif name == "code" and attribute == "class" and value.startswith("language-"):
            argument = value[9:]
        elif name == "span" and attribute == "class" and value.startswith("tg-"):
            argument = value[3:]
        elif name == "tg-emoji" and attribute == "emoji-id":
            argument = value
        elif name == "blockquote" and attribute == "expandable":
            expandable = True
    if name == "span" and argument != "spoiler":
        raise _entity_error(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
    stack.append(_OpenTag(name, argument, out.length, len(out.parts), expandable))
    return i + 1


def _html_end_tag(
    text: str, begin: int, stack: list[_OpenTag], out: _Out, entities: list[JSON]
) -> int:
    n = len(text)
    offset = _byte_offset(text, begin)
    if not stack:
        raise _entity_error(f"Unexpected end tag at byte offset {offset}")
    i = begin + 2
    while i < n and text[i] not in _SPACES and text[i] != ">":
        i += 1
    end_name = text[begin + 2 : i].lower()
    while i < n and text[i] in _SPACES:
        i += 1
    if i >= n or text[i] != ">":
        raise _entity_error(f"Unclosed end tag at byte offset {offset}")
    tag = stack.pop()
    if end_name and end_name != tag.name:
        raise _entity_error(
            f'Unmatched end tag at byte offset {offset}, expected "</{tag.name}>", '
            f'found "</{end_name}>"'
        )
    if out.length > tag.offset:
        _html_close(tag, out, entities)
    return i + 1


def _html_close(tag: _OpenTag, out: _Out, entities: list[JSON]) -> None:
    offset = tag.offset
    length = out.length - offset
    last = entities[-1] if entities else None
    same_span = last is not None and last["offset"] == offset and last["length"] == length
    if tag.name in _HTML_SIMPLE:
        entities.append(_entity(_HTML_SIMPLE[tag.name], offset, length))
    elif tag.name == "a":
        url = _checked_link(tag.argument or out.since(tag.part_index))
        if url is not None:
            entities.append(_entity("text_link", offset, length, url=url))
    elif tag.name == "tg-emoji":
        if not tag.argument.isdigit() or int(tag.argument) == 0:
            raise _entity_error("Invalid custom emoji identifier specified")
        entities.append(_entity("custom_emoji", offset, length, custom_emoji_id=tag.argument))
    elif tag.name == "blockquote":
        kind = "expandable_blockquote" if tag.expandable else "blockquote"
        entities.append(_entity(kind, offset, length))
    elif tag.name == "pre":
        if last is not None and same_span and last["type"] == "code":
            # <pre><code class="language-x">: the code entity becomes pre with a language.
            language = last.get("_language", "")
            entities[-1] = _entity(
                "pre", offset, length, **({"language": language} if language else {})
            )
        else:
            entities.append(_entity("pre", offset, length))
    elif last is not None and same_span and last["type"] == "pre" and tag.argument:
        last["language"] = tag.argument
    else:
        extra = {"_language": tag.argument} if tag.argument else {}
        entities.append(_entity("code", offset, length, **extra))


_MDV2_TYPE_NAMES: Final = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "pre_code": "PreCode",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
}
_MDV2_RUN: Final = re.compile(r"[^_*\[\]()~`>#+\-=|{}.!\n\\]+")
_MDV2_CODE_RUN: Final = re.compile(r"[^`\\]+")


def _reserved(char: str) -> ApiError:
    return _entity_error(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


@dataclass(slots=True)
class _MdEntity:
    kind: str
    argument: str
    offset: int
    byte_index: int
    part_index: int


def parse_markdown_v2(text: str) -> tuple[str, list[JSON]]:
    """Parses Telegram MarkdownV2 into plain text and entities, or raises :class:`ApiError`."""
    n = len(text)
    out = _Out()
    entities: list[JSON] = []
    stack: list[_MdEntity] = []
    have_blockquote = False

    def at(k: int) -> str:
        return text[k] if k < n else "\0"

    def end_error(entity: _MdEntity) -> ApiError:
        name = _MDV2_TYPE_NAMES[entity.kind]
        offset = _byte_offset(text, entity.byte_index)
        return _entity_error(f"Can't find end of {name} entity at byte offset {offset}")

    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and 0 < ord(at(i + 1)) <= 126:
            out.add(text[i + 1])
            i += 2
            continue
        in_code = bool(stack) and stack[-1].kind in ("code", "pre", "pre_code")
        run = (_MDV2_CODE_RUN if in_code else _MDV2_RUN).match(text, i)
        if run is not None:
            out.add(run.group())
            i = run.end()
            continue
        if in_code and c != "`":
            # A backslash not escaping an ASCII character is literal.
            out.add(c)
            i += 1
            continue
        if c == "\\":
            out.add(c)
            i += 1
            continue

        is_end = False
        if stack:
            top = stack[-1].kind
            if have_blockquote and c == "\n" and (i + 1 == n or text[i + 1] != ">"):
                is_end = True
            elif top == "bold":
                is_end = c == "*"
            elif top == "italic":
                is_end = c == "_" and at(i + 1) != "_"
            elif top == "code":
                is_end = c == "`"
            elif top in ("pre", "pre_code"):
                is_end = c == "`" and at(i + 1) == "`" and at(i + 2) == "`"
            elif top in ("text_link", "custom_emoji"):
                is_end = c == "]"
            elif top == "underline":
                is_end = c == "_" and at(i + 1) == "_"
            elif top == "strikethrough":
                is_end = c == "~"
            elif top == "spoiler":
                is_end = c == "|" and at(i + 1) == "|"

        if not is_end:
            kind = ""
            argument = ""
            byte_index = i
            if c == "_":
                if at(i + 1) == "_":
                    kind = "underline"
                    i += 1
                else:
                    kind = "italic"
            elif c == "*":
                kind = "bold"
            elif c == "~":
                kind = "strikethrough"
            elif c == "|":
                if at(i + 1) != "|":
                    raise _reserved(c)
                i += 1
                kind = "spoiler"
            elif c == "[":
                kind = "text_link"
            elif c == "`":
                if at(i + 1) == "`" and at(i + 2) == "`":
                    i += 3
                    kind = "pre"
                    language_end = i
                    while (
                        language_end < n
                        and text[language_end] not in _SPACES
                        and (text[language_end] != "`")
                    ):
                        language_end += 1
                    if i != language_end and language_end < n and text[language_end] != "`":
                        kind = "pre_code"
                        argument = text[i:language_end]
                        i = language_end
                    if at(i) in "\n\r":
                        if at(i + 1) in "\n\r" and at(i) != at(i + 1):
                            i += 2
                        else:
                            i += 1
                    i -= 1
                else:
                    kind = "code"
            elif c == "!":
                if at(i + 1) != "[":
                    raise _reserved(c)
                i += 1
                kind = "custom_emoji"
            elif c == "\n":
                out.add("\n")
                if at(i + 1) == ">":
                    i += 1
                    if not have_blockquote:
                        kind = "blockquote"
                        have_blockquote = True
                if not kind:
                    i += 1
                    continue
            elif c == ">":
                if i != 0:
                    raise _reserved(c)
                kind = "blockquote"
                have_blockquote = True
            else:
                raise _reserved(c)
            stack.append(_MdEntity(kind, argument, out.length, byte_index, len(out.parts)))
            i += 1
            continue

        entity = stack[-1]
        if c == "\n" and entity.kind != "blockquote":
            raise end_error(entity)
        skip = out.length == entity.offset
        extra: JSON = {}
        kind = entity.kind
        if kind in ("underline", "spoiler"):
            i += 1
        elif kind in ("pre", "pre_code"):
            i += 2
            if kind == "pre_code":
                kind = "pre"
                extra["language"] = entity.argument
        elif kind in ("text_link", "custom_emoji"):
            url = ""
            if at(i + 1) != "(":
                if kind == "custom_emoji":
                    raise _entity_error("Custom emoji entity must contain a tg://emoji URL")
                url = out.since(entity.part_index)
            else:
                i += 2
                url_begin = i
                chars: list[str] = []
                while i < n and text[i] != ")":
                    if text[i] == "\\" and 0 < ord(at(i + 1)) <= 126:
                        chars.append(text[i + 1])
                        i += 2
                        continue
                    chars.append(text[i])
                    i += 1
                if i >= n:
                    what = "a custom emoji URL" if kind == "custom_emoji" else "a URL"
                    raise _entity_error(
                        f"Can't find end of {what} at byte offset {_byte_offset(text, url_begin)}"
                    )
                url = "".join(chars)
            if kind == "custom_emoji":
                found = re.fullmatch(r"tg://emoji\?id=(\d+)", url)
                if found is None or int(found.group(1)) == 0:
                    raise _entity_error("Invalid custom emoji identifier specified")
                extra["custom_emoji_id"] = found.group(1)
            else:
                checked = _checked_link(url)
                if checked is None:
                    skip = True
                else:
                    extra["url"] = checked
        elif kind == "blockquote":
            have_blockquote = False
            out.add(c)
        stack.pop()
        if not skip:
            length = out.length - entity.offset
            if length > 0:
                entities.append(_entity(kind, entity.offset, length, **extra))
        i += 1

    if have_blockquote and stack and stack[-1].kind == "blockquote":
        entity = stack.pop()
        if out.length > entity.offset:
            entities.append(_entity("blockquote", entity.offset, out.length - entity.offset))
    if stack:
        raise end_error(stack[-1])
    return _finish(out.text(), entities)


def parse_markdown(text: str) -> tuple[str, list[JSON]]:
    """Parses legacy Telegram Markdown into plain text and entities, or raises ApiError."""
    n = len(text)
    out = _Out()
    entities: list[JSON] = []

    def at(k: int) -> str:
        return text[k] if k < n else "\0"

    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and at(i + 1) in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        if c not in "_*`[":
            j = i + 1
            while j < n and text[j] not in "_*`[\\":
                j += 1
            out.add(text[i:j])
            i = j
            continue
        begin = i
        end_char = "]" if c == "[" else c
        is_pre = False
        language = ""
        i += 1
        if c == "`" and at(i) == "`" and at(i + 1) == "`":
            i += 2
            is_pre = True
            language_end = i
            while (
                language_end < n
                and text[language_end] not in _SPACES
                and (text[language_end] != "`")
            ):
                language_end += 1
            if i != language_end and language_end < n and text[language_end] != "`":
                language = text[i:language_end]
                i = language_end
            if at(i) in "\n\r":
                i += 2 if at(i + 1) in "\n\r" and at(i) != at(i + 1) else 1
        start = out.length
        body_begin = i
        while i < n and (
            text[i] != end_char or (is_pre and not (at(i + 1) == "`" and at(i + 2) == "`"))
        ):
            i += 1
        if i >= n:
            raise _entity_error(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, begin)}"
            )
        out.add(text[body_begin:i])
        length = out.length - start
        if length > 0:
            if c == "_":
                entities.append(_entity("italic", start, length))
            elif c == "*":
                entities.append(_entity("bold", start, length))
            elif c == "[":
                url = text[body_begin:i]
                if at(i + 1) == "(":
                    i += 2
                    url_begin = i
                    while i < n and text[i] != ")":
                        i += 1
                    url = text[url_begin:i]
                checked = _checked_link(url)
                if checked is not None:
                    entities.append(_entity("text_link", start, length, url=checked))
            elif is_pre:
                extra = {"language": language} if language else {}
                entities.append(_entity("pre", start, length, **extra))
            else:
                entities.append(_entity("code", start, length))
        if is_pre:
            i += 2
        i += 1
    return _finish(out.text(), entities)


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[JSON]]:
    """Plain text and entities of ``text`` under ``parse_mode``, validated like Telegram."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad_request("text must be encoded in UTF-8") from None
    mode = (parse_mode or "").lower()
    if mode == "":
        return _finish(text, [])
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    raise _bad_request(f"unsupported parse_mode {parse_mode}")


# --------------------------------------------------------------------------------------------
# Request decoding and validation helpers
# --------------------------------------------------------------------------------------------


def _parse_multipart(body: bytes, content_type_params: str) -> JSON:
    found = re.search(r'boundary="?([^";]+)"?', content_type_params)
    if found is None:
        raise _bad_request("can't parse multipart/form-data body: no boundary")
    delimiter = b"--" + found.group(1).encode("latin-1")
    params: JSON = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, sep, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            continue
        content = content.removesuffix(b"\r\n")
        headers = head.decode("utf-8", "replace")
        name = re.search(r';\s*name="([^"]*)"', headers)
        if name is None:
            continue
        filename = re.search(r';\s*filename="([^"]*)"', headers)
        if filename is None:
            params[name.group(1)] = content.decode("utf-8", "replace")
        else:
            ctype = re.search(r"(?im)^content-type:\s*(\S+)", headers)
            params[name.group(1)] = UploadedFile(
                filename.group(1),
                ctype.group(1) if ctype else "application/octet-stream",
                content,
            )
    return params


def _decode_params(query: str, content_type: str, body: bytes) -> JSON:
    params: JSON = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    mime, _, ct_params = content_type.partition(";")
    mime = mime.strip().lower()
    if body:
        if mime == "application/json":
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                raise _bad_request("can't parse JSON object") from None
            if not isinstance(data, dict):
                raise _bad_request("JSON object expected")
            params.update(data)
        elif mime == "multipart/form-data":
            params.update(_parse_multipart(body, ct_params))
        else:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    for key, value in params.items():
        if not isinstance(value, str):
            continue
        if key in _JSON_FIELDS:
            # An undecodable value stays a string for the method to reject.
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)
        elif key in _INT_FIELDS or key == "chat_id":
            if re.fullmatch(r"-?\d+", value.strip()):
                params[key] = int(value)
        elif key in _FLOAT_FIELDS:
            try:
                number = float(value)
            except ValueError:
                continue
            params[key] = int(number) if number.is_integer() else number
        elif key in _BOOL_FIELDS and value.lower() in ("true", "false", "1", "0"):
            params[key] = value.lower() in ("true", "1")
    return params


def _opt_int(params: JSON, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad_request(f'field "{name}" must be of type Integer')
    return int(value)


def _opt_str(params: JSON, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise _bad_request(f'field "{name}" must be of type String')
    return str(value)


def _validate_inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise _bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    text = button.get("text")
    if not isinstance(text, str):
        raise _bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    if not text.strip():
        raise _bad_request("BUTTON_TEXT_INVALID")
    actions = [name for name in _BUTTON_ACTIONS if name in button]
    if not actions:
        raise _bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        # Telegram documents "exactly one of the optional fields"; its exact error is unknown.
        raise _bad_request(
            "can't parse inline keyboard button: exactly one of the optional fields must be used"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
            raise _bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not re.match(r"(?i)(https?|tg)://\S+$", url):
            raise _bad_request("BUTTON_URL_INVALID")


def _validate_reply_markup(markup: Any) -> JSON | None:
    if markup is None or markup == "":
        return None
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                _validate_inline_button(button)
        return markup
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request(
                'field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                if isinstance(button, str):
                    continue
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad_request(
                        'can\'t parse keyboard button: Field "text" must be of type String'
                    )
        return markup
    if "remove_keyboard" in markup or "force_reply" in markup:
        return markup
    raise _bad_request("can't parse reply keyboard markup JSON object")


def _inline_part(markup: JSON | None) -> JSON | None:
    if markup is not None and "inline_keyboard" in markup:
        return markup
    return None


_COMMAND_IN_TEXT: Final = re.compile(
    r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>@])"
)
_MENTION_IN_TEXT: Final = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}(?!\w)")
_URL_IN_TEXT: Final = re.compile(r"(?<![\w@])https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'}]")


def _user_entities(text: str) -> list[JSON]:
    """The entities Telegram detects in text a user typed: commands, mentions and URLs."""
    found: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for pattern, kind in (
        (_COMMAND_IN_TEXT, "bot_command"),
        (_URL_IN_TEXT, "url"),
        (_MENTION_IN_TEXT, "mention"),
    ):
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            found.append((start, end, kind))
    found.sort()
    return [
        _entity(kind, utf16_len(text[:start]), utf16_len(text[start:end]))
        for start, end, kind in found
    ]


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int = 200
    payload: bytes = b""
    reset: bool = False


@dataclass(slots=True)
class _Fault:
    kind: str
    remaining: int
    status: int = 0
    description: str = ""
    retry_after: int | None = None
    seconds: float = 0.0
    apply: bool = False


class _Handler(BaseHTTPRequestHandler):
    """Feeds each HTTP/1.1 keep-alive request to the double and writes its answer in one send."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "BotApiDouble/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the double records every call itself."""

    def handle(self) -> None:
        # The client or stop() may close the connection mid-request; nothing to report then.
        with contextlib.suppress(OSError, ValueError):
            super().handle()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        double = cast("_Server", self.server).double
        reply = double._process(self.path, self.headers.get("Content-Type", ""), self._read_body())
        if reply.reset:
            # Linger 0 turns the close into a TCP RST, like a dropped connection.
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            self.close_connection = True
            return
        try:
            phrase = http.HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "Unknown"
        head = (
            f"HTTP/1.1 {reply.status} {phrase}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(reply.payload)}\r\n"
        )
        if self.close_connection:
            head += "Connection: close\r\n"
        self.wfile.write(head.encode("ascii") + b"\r\n" + reply.payload)


class _Server(ThreadingHTTPServer):
    """Threaded server that tracks its connections so that stop() can close and join them."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, double: BotApiDouble, host: str) -> None:
        self.double = double
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        self._closing = False
        self.opened = 0  # connections accepted so far
        super().__init__((host, 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="botapi-double-connection",
            daemon=True,
        )
        with self._connections_lock:
            if self._closing:
                self.shutdown_request(request)
                return
            self._connections[request] = thread
            self.opened += 1
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            pass  # a vanished client is not an error of the double
        finally:
            with self._connections_lock:
                self._connections.pop(request, None)
            self.shutdown_request(request)

    def close_connections(self, timeout: float) -> None:
        """Ends every open connection and joins its thread."""
        with self._connections_lock:
            self._closing = True
            connections = list(self._connections.items())
            # Half-closing wakes handlers idling in recv() while answers in flight still go out.
            for sock, _ in connections:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RD)
        deadline = time.monotonic() + timeout
        for _, thread in connections:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._connections_lock:
            stragglers = list(self._connections.items())
            for sock, _ in stragglers:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for _, thread in stragglers:
            thread.join(timeout)


class _Bucket:
    """Token bucket: ``capacity`` sends at once, refilled at ``rate`` per second."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.stamp = now

    def wait(self, now: float) -> float:
        """Refills, then returns the seconds until one token is available (0 if now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


@dataclass(slots=True)
class _Stored:
    json: JSON
    from_bot: bool
    sent: SentMessage | None = None
    deleted: bool = False


@dataclass(slots=True)
class _Query:
    created: float
    answered: bool = False


@dataclass(frozen=True)
class InlineAnswer:
    """An accepted answerInlineQuery: its results as sent, each message parsed like
    sendMessage parses text (``plain_texts``: what a user would see once a result is sent)."""

    query_id: str
    results: list[JSON]
    plain_texts: list[str]
    cache_time: int | None
    is_personal: bool


# --------------------------------------------------------------------------------------------
# The double
# --------------------------------------------------------------------------------------------


class _WebhookPusher:
    """Telegram's side of a webhook: updates POSTed by a pool of threads, each with its own
    kept-alive connection (httpx), to the targets in turn."""

    def __init__(self, targets: list[str], secret: str, connections: int) -> None:
        self._targets = itertools.cycle(targets)
        self._lock = threading.Lock()
        self._headers = {"Content-Type": "application/json"}
        if secret:
            self._headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        self._queue: deque[JSON] = deque()
        self._ready = threading.Condition(self._lock)
        self._closing = False
        self.failures: list[str] = []
        self._threads = [
            threading.Thread(target=self._work, name=f"webhook-push-{n}", daemon=True)
            for n in range(connections)
        ]
        for thread in self._threads:
            thread.start()

    def push(self, update: JSON) -> None:
        with self._ready:
            self._queue.append(update)
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self._closing = True
            self._ready.notify_all()
        for thread in self._threads:
            thread.join(timeout=15)

    def _work(self) -> None:
        with httpx.Client(timeout=10) as client:
            while True:
                with self._ready:
                    while not self._queue and not self._closing:
                        self._ready.wait()
                    if self._closing:
                        return
                    update = self._queue.popleft()
                    target = next(self._targets)
                body = json.dumps(update).encode()
                while not self._closing:
                    try:
                        status = client.post(target, content=body, headers=self._headers)
                        if 200 <= status.status_code < 300:
                            break
                        failure = f"{target}: HTTP {status.status_code}"
                    except httpx.HTTPError as error:
                        failure = f"{target}: {type(error).__name__}: {error}"
                    with self._lock:
                        self.failures.append(failure)
                    time.sleep(1.0)


class BotApiDouble:
    """Telegram Bot API double on 127.0.0.1; see the module docstring for its behaviour.

    Flood control (``enforce_flood_limits=True``) applies to ``sendMessage``: private chats get a
    burst of ``private_chat_burst`` messages refilled at ``private_chat_rate`` per second, groups
    ``group_chat_per_minute`` per minute, and all chats together ``global_rate`` per second. A send
    over a limit answers 429 ``Too Many Requests: retry after N`` and is not counted.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = DEFAULT_BOT_USERNAME,
        bot_first_name: str = DEFAULT_BOT_FIRST_NAME,
        enforce_flood_limits: bool = False,
        global_rate: float = 30.0,
        private_chat_rate: float = 1.0,
        private_chat_burst: int = 3,
        group_chat_per_minute: int = 20,
        callback_query_timeout: float = 15.0,
        record_calls: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        bot_id, sep, _ = token.partition(":")
        if not sep or not bot_id.isdigit():
            raise ValueError(f"token must look like '<bot id>:<secret>', got {token!r}")
        self._token = token
        self._bot_id = int(bot_id)
        self._bot_username = bot_username
        self._bot_user: JSON = {
            "id": self._bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self._host = host
        self.enforce_flood_limits = enforce_flood_limits
        self.global_rate = global_rate
        self.private_chat_rate = private_chat_rate
        self.private_chat_burst = private_chat_burst
        self.group_chat_per_minute = group_chat_per_minute
        self.callback_query_timeout = callback_query_timeout
        self.record_calls = record_calls

        self._cond = threading.Condition()
        self._stop_event = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._methods: dict[str, tuple[str, MethodHandler]] = {}
        for name, handler in (
            ("getMe", self._m_get_me),
            ("logOut", self._m_true),
            ("close", self._m_true),
            ("getUpdates", self._m_get_updates),
            ("setWebhook", self._m_set_webhook),
            ("deleteWebhook", self._m_delete_webhook),
            ("getWebhookInfo", self._m_get_webhook_info),
            ("sendMessage", self._m_send_message),
            ("sendMessageDraft", self._m_send_message_draft),
            ("sendPhoto", self._m_send_photo),
            ("editMessageText", self._m_edit_message_text),
            ("editMessageReplyMarkup", self._m_edit_message_reply_markup),
            ("deleteMessage", self._m_delete_message),
            ("answerCallbackQuery", self._m_answer_callback_query),
            ("answerInlineQuery", self._m_answer_inline_query),
            ("sendChatAction", self._m_send_chat_action),
            ("getChatMember", self._m_get_chat_member),
            ("setMyCommands", self._m_set_my_commands),
            ("getMyCommands", self._m_get_my_commands),
            ("deleteMyCommands", self._m_delete_my_commands),
            ("setMyDescription", self._m_true),
            ("setMyShortDescription", self._m_true),
            ("setMyName", self._m_true),
            ("setChatMenuButton", self._m_true),
        ):
            self._methods[name.lower()] = (name, handler)
        self._reset_state()

    def _reset_state(self) -> None:
        self._calls: list[Call] = []
        self._internal_errors: list[str] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._updates: deque[JSON] = deque()
        self._dropped: list[JSON] = []
        self._last_update_id = 0
        self._allowed_updates: frozenset[str] | None = None
        self._poll_generation = 0
        self._active_polls = 0
        self._webhook_url = ""
        self._spread: Iterator[str] = iter(())
        self._pusher: _WebhookPusher | None = None
        self._chats: dict[int, JSON] = {}
        self._users: dict[int, JSON] = {}
        self._usernames: dict[str, int] = {}
        self._blocked: set[int] = set()
        self._admins: dict[int, dict[int, str]] = {}  # chat -> user -> "creator" | "administrator"
        self._chat_messages: dict[int, dict[int, _Stored]] = {}
        self._bot_message_ids: dict[int, list[int]] = {}
        self._next_message_id: dict[int, int] = {}
        self._drafts: list[Draft] = []
        self._photos: list[SentPhoto] = []
        self._files: dict[str, tuple[int, int, int]] = {}  # file_id -> width, height, bytes
        self._file_numbers = itertools.count(1)
        self._queries: dict[str, _Query] = {}
        self._query_ids = itertools.count(4_000_000_000_000_000_001)
        self._answers: list[CallbackAnswer] = []
        self._inline_queries: dict[str, _Query] = {}
        self._inline_answers: list[InlineAnswer] = []
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._chat_buckets: dict[int, _Bucket] = {}
        self._global_bucket: _Bucket | None = None

    # ---------------------------------------------------------------- lifecycle and addresses

    def start(self) -> Self:
        """Binds a free port on the host and serves in a background thread."""
        if self._server is not None:
            raise RuntimeError("BotApiDouble is already running")
        with self._cond:
            self._stopping = False
        self._stop_event.clear()
        server = _Server(self, self._host)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="botapi-double-server",
            daemon=True,
        )
        self._server = server
        self._thread = thread
        thread.start()
        return self

    def stop(self) -> None:
        """Answers pending long polls, closes every connection and joins all threads."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self.stop_pushing()
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._stop_event.set()
        server.shutdown()
        server.server_close()
        server.close_connections(timeout=2.0)
        thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Forgets all chats, updates, messages, calls and faults; the server keeps running."""
        with self._cond:
            self._poll_generation += 1  # pending polls end with a conflict, as on a restart
            self._reset_state()
            self._cond.notify_all()

    @property
    def token(self) -> str:
        """The bot token the double accepts."""
        return self._token

    @property
    def bot_id(self) -> int:
        """The bot's user id, taken from the token."""
        return self._bot_id

    @property
    def bot_username(self) -> str:
        """The bot's username, without '@'."""
        return self._bot_username

    @property
    def port(self) -> int:
        """The TCP port the double listens on."""
        if self._server is None:
            raise RuntimeError("BotApiDouble is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """Value for ``ApplicationBuilder().base_url()`` / ``Bot(base_url=...)``."""
        return f"http://{self._host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for ``base_file_url``; file downloads are not served (404)."""
        return f"http://{self._host}:{self.port}/file/bot"

    @property
    def connections_opened(self) -> int:
        """How many connections clients have opened to the double since it started."""
        server = self._server
        if server is None:
            return 0
        with server._connections_lock:
            return server.opened

    @property
    def active_long_polls(self) -> int:
        """How many getUpdates requests are waiting right now."""
        with self._cond:
            return self._active_polls

    # ---------------------------------------------------------------- fault injection

    def _canonical(self, method: str) -> str:
        entry = self._methods.get(method.lower())
        if entry is None:
            raise ValueError(f"unknown Bot API method {method!r}")
        return entry[0]

    def _add_fault(self, method: str, fault: _Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("times must be at least 1")
        name = self._canonical(method)
        with self._cond:
            self._faults.setdefault(name, deque()).append(fault)

    def fail_next(
        self,
        method: str,
        *,
        status: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answers the next ``times`` calls of ``method`` with this error, without executing them.

        With ``retry_after`` the answer carries ``parameters.retry_after`` like a 429 flood wait.
        """
        self._add_fault(
            method,
            _Fault("fail", times, status=status, description=description, retry_after=retry_after),
        )

    def delay_next(
        self, method: str, seconds: float, times: int = 1, *, apply: bool = True
    ) -> None:
        """Holds the answer to the next ``times`` calls of ``method`` for ``seconds``.

        With ``apply=True`` the call takes effect at once and only the answer is late, as when
        Telegram sent the message but the client timed out; with ``apply=False`` the call takes
        effect after the wait. stop() cuts the wait short.
        """
        self._add_fault(method, _Fault("delay", times, seconds=seconds, apply=apply))

    def reset_next(self, method: str, times: int = 1, *, apply: bool = False) -> None:
        """Closes the connection of the next ``times`` calls of ``method`` without an answer.

        With ``apply=False`` the call has no effect (lost on the way in); with ``apply=True`` it
        takes effect and only the answer is lost.
        """
        self._add_fault(method, _Fault("reset", times, apply=apply))

    def clear_faults(self) -> None:
        """Drops every pending injected fault."""
        with self._cond:
            self._faults.clear()

    def register_method(self, name: str, handler: MethodHandler) -> None:
        """Serves ``name`` with ``handler(params) -> result``; it runs under the double's lock.

        The handler may raise :class:`ApiError` to answer with an error.
        """
        with self._cond:
            self._methods[name.lower()] = (name, handler)

    # ---------------------------------------------------------------- simulated users

    def set_administrators(
        self, chat_id: int, administrators: Iterable[int], *, creator: int | None = None
    ) -> None:
        """Who administers a group, as ``getChatMember`` reports it; other users are members."""
        with self._cond:
            roles = {user_id: "administrator" for user_id in administrators}
            if creator is not None:
                roles[creator] = "creator"
            self._admins[chat_id] = roles

    def block(self, chat_id: int) -> None:
        """Makes the chat refuse the bot with 403 (blocked by the user, or kicked from a group)."""
        with self._cond:
            self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        """Undoes :meth:`block`."""
        with self._cond:
            self._blocked.discard(chat_id)

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        language_code: str | None = "en",
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Test",
        username: str | None = None,
        reply_to_message_id: int | None = None,
        chat_title: str = "Test Group",
    ) -> JSON:
        """Enqueues a text message from a user and returns the update (a copy).

        Private chats have the user's id; groups need a negative ``chat_id``. Commands
        (``/start``, ``/start@bot``), @mentions and URLs get entities like Telegram detects them.
        """
        with self._cond:
            user = self._remember_user(user_id, first_name, username, language_code)
            chat = self._remember_chat(user, chat_id, chat_type, chat_title)
            message: JSON = {
                "message_id": self._new_message_id(chat["id"]),
                "from": user,
                "chat": chat,
                "date": int(time.time()),
            }
            if reply_to_message_id is not None:
                stored = self._chat_messages.get(chat["id"], {}).get(reply_to_message_id)
                if stored is None:
                    raise ValueError(f"no message {reply_to_message_id} in chat {chat['id']}")
                message["reply_to_message"] = {
                    k: v for k, v in stored.json.items() if k != "reply_to_message"
                }
            message["text"] = text
            entities = _user_entities(text)
            if entities:
                message["entities"] = entities
            self._store(chat["id"], _Stored(message, from_bot=False))
            update = self._enqueue({"message": message})
            return copy.deepcopy(update)

    def press_button(
        self,
        user_id: int,
        message_id: int,
        data: str,
        *,
        chat_id: int | None = None,
        language_code: str | None = "en",
        first_name: str = "Test",
        username: str | None = None,
        strict: bool = True,
    ) -> str:
        """Enqueues a callback query for a button of a bot message; returns the query id.

        The message must be a live bot message in the chat (``chat_id`` defaults to the user's
        private chat). With ``strict`` the data must belong to one of its inline buttons, since a
        real client can only press buttons that exist.
        """
        with self._cond:
            user = self._remember_user(user_id, first_name, username, language_code)
            target = user_id if chat_id is None else chat_id
            stored = self._chat_messages.get(target, {}).get(message_id)
            if stored is None or not stored.from_bot or stored.deleted or stored.sent is None:
                raise ValueError(f"no live bot message {message_id} in chat {target}")
            if strict and data not in stored.sent.callback_data:
                raise ValueError(
                    f"message {message_id} has no button with callback_data {data!r}; "
                    f"it has {stored.sent.callback_data}"
                )
            query_id = str(next(self._query_ids))
            self._queries[query_id] = _Query(time.monotonic())
            self._enqueue(
                {
                    "callback_query": {
                        "id": query_id,
                        "from": user,
                        "message": stored.json,
                        "chat_instance": str((abs(target) * 2654435761) % 10**19),
                        "data": data,
                    }
                }
            )
            return query_id

    def send_inline_query(
        self,
        user_id: int,
        query: str,
        *,
        language_code: str | None = "en",
        first_name: str = "Test",
        username: str | None = None,
        offset: str = "",
        chat_type: str | None = "sender",
    ) -> str:
        """Enqueues an inline query (``@bot <query>`` typed in a chat); returns its id.

        Telegram sends at most 256 characters of query; longer is refused here, as a real
        client cannot type it.
        """
        if len(query) > 256:
            raise ValueError("an inline query holds at most 256 characters")
        with self._cond:
            user = self._remember_user(user_id, first_name, username, language_code)
            query_id = str(next(self._query_ids))
            self._inline_queries[query_id] = _Query(time.monotonic())
            inline: JSON = {"id": query_id, "from": user, "query": query, "offset": offset}
            if chat_type is not None:
                inline["chat_type"] = chat_type
            self._enqueue({"inline_query": inline})
            return query_id

    def inline_answers(self) -> list[InlineAnswer]:
        """The bot's accepted answerInlineQuery calls, in order."""
        with self._cond:
            return list(self._inline_answers)

    async def await_inline_answer(
        self,
        query_id: str,
        timeout: float = 10,  # noqa: ASYNC109 - mirrors await_for
    ) -> InlineAnswer:
        """The accepted answer to ``query_id``, once the bot gave it."""

        def answered() -> InlineAnswer | None:
            return next((a for a in self._inline_answers if a.query_id == query_id), None)

        await self.await_for(lambda _: answered() is not None, timeout=timeout)
        found = answered()
        assert found is not None
        return found

    def webhook(self) -> tuple[str, str]:
        """The URL and secret token the bot registered with setWebhook ("" when none)."""
        with self._cond:
            return self._webhook_url, getattr(self, "_webhook_secret", "")

    def deliver_webhook(
        self, target: str, raw: Mapping[str, Any], *, secret: str | None = None
    ) -> int:
        """POSTs one update to ``target`` as Telegram does, with the registered secret token
        in X-Telegram-Bot-Api-Secret-Token (or ``secret`` to impersonate a forger); returns
        the HTTP status. ``target`` stands for the public URL behind a TLS-terminating proxy.
        """
        update = copy.deepcopy(dict(raw))
        with self._cond:
            self._last_update_id += 1
            update.setdefault("update_id", self._last_update_id)
            for value in update.values():
                if isinstance(value, dict):
                    self._register_payload(value)
            registered = getattr(self, "_webhook_secret", "")
        headers = {"Content-Type": "application/json"}
        token = registered if secret is None else secret
        if token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        request = urllib.request.Request(
            target, data=json.dumps(update).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            error.close()
            return int(error.code)

    def spread_webhooks(self, targets: Iterable[str]) -> None:
        """Several replicas behind a load balancer: :meth:`deliver_spread` posts each update
        to the next of ``targets`` in turn, as a round-robin balancer would."""
        with self._cond:
            self._spread = itertools.cycle(list(targets))

    def deliver_spread(self, raw: Mapping[str, Any]) -> tuple[str, int]:
        """POSTs one update to the next target of :meth:`spread_webhooks`; the target and its
        HTTP status."""
        with self._cond:
            target = next(self._spread)
        return target, self.deliver_webhook(target, raw)

    def push_webhooks(self, targets: Iterable[str], *, connections: int = 40) -> None:
        """From now on every update enqueued (send_text, press_button…) is POSTed, as Telegram
        does once a webhook is set, to the next of ``targets`` in turn (a round-robin balancer
        in front of replicas), over at most ``connections`` kept-alive connections at once
        (Telegram's ``max_connections`` default, 40). A delivery that fails or is not answered
        2xx is retried once a second, as Telegram retries, and counted in
        :meth:`push_failures`."""
        with self._cond:
            _, secret = self._webhook_url, getattr(self, "_webhook_secret", "")
            self._pusher = _WebhookPusher(list(targets), secret, connections)

    def stop_pushing(self) -> None:
        with self._cond:
            pusher, self._pusher = self._pusher, None
        if pusher is not None:
            pusher.close()

    def push_failures(self) -> list[str]:
        """Webhook deliveries that failed (each retried until it succeeded or pushing stopped)."""
        with self._cond:
            pusher = self._pusher
        return [] if pusher is None else list(pusher.failures)

    def send_rate_peak(self, method: str = "sendMessage", window: float = 1.0) -> int:
        """The most accepted ``method`` calls that arrived within any ``window`` seconds
        (sliding, from each call's arrival): what Telegram's per-token limit is measured on,
        whichever processes sent them."""
        times = sorted(call.time for call in self.calls(method) if call.ok)
        peak, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            peak = max(peak, end - start + 1)
        return peak

    def send_update(self, raw: Mapping[str, Any]) -> JSON:
        """Enqueues an arbitrary update (``update_id`` is assigned when missing); returns a copy.

        Chats and users found in it become known, and messages in it can be replied to.
        """
        update = copy.deepcopy(dict(raw))
        with self._cond:
            if "update_id" in update:
                update_id = int(update.pop("update_id"))
                if update_id <= self._last_update_id:
                    raise ValueError(f"update_id must exceed {self._last_update_id}")
                self._last_update_id = update_id - 1
            for value in update.values():
                if isinstance(value, dict):
                    self._register_payload(value)
            return copy.deepcopy(self._enqueue(update))

    def _register_payload(self, payload: JSON) -> None:
        sender = payload.get("from")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            self._users[sender["id"]] = sender
        message = payload.get("message") if "chat_instance" in payload else payload
        if not isinstance(message, dict):
            return
        chat = message.get("chat")
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            self._chats.setdefault(chat["id"], chat)
            if chat.get("username"):
                self._usernames[str(chat["username"]).lower()] = chat["id"]
            message_id = message.get("message_id")
            if isinstance(message_id, int) and "chat_instance" not in payload:
                known = self._chat_messages.get(chat["id"], {}).get(message_id)
                if known is None:
                    self._store(chat["id"], _Stored(message, from_bot=False))
                self._next_message_id[chat["id"]] = max(
                    self._next_message_id.get(chat["id"], 1), message_id + 1
                )

    def _remember_user(
        self, user_id: int, first_name: str, username: str | None, language_code: str | None
    ) -> JSON:
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[user_id] = user
        return user

    def _remember_chat(self, user: JSON, chat_id: int | None, chat_type: str, title: str) -> JSON:
        if chat_type == "private":
            if chat_id not in (None, user["id"]):
                raise ValueError("a private chat's id is the user's id")
            chat: JSON = {"id": user["id"], "first_name": user["first_name"]}
            if "username" in user:
                chat["username"] = user["username"]
            chat["type"] = "private"
        else:
            if chat_type not in ("group", "supergroup", "channel"):
                raise ValueError(f"unknown chat_type {chat_type!r}")
            if chat_id is None or chat_id >= 0:
                raise ValueError("group, supergroup and channel chats need a negative chat_id")
            chat = {"id": chat_id, "title": title, "type": chat_type}
        self._chats[chat["id"]] = chat
        if chat.get("username"):
            self._usernames[str(chat["username"]).lower()] = chat["id"]
        return chat

    def _new_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _store(self, chat_id: int, stored: _Stored) -> None:
        self._chat_messages.setdefault(chat_id, {})[stored.json["message_id"]] = stored

    def _enqueue(self, payload: JSON) -> JSON:
        self._last_update_id += 1
        update = {"update_id": self._last_update_id, **payload}
        kind = next((key for key in payload), "")
        allowed = self._allowed_updates
        if (kind in _OPT_IN_UPDATES) if allowed is None else (kind not in allowed):
            self._dropped.append(update)
        elif self._pusher is not None:
            self._pusher.push(copy.deepcopy(update))
        else:
            self._updates.append(update)
        self._cond.notify_all()
        return update

    # ---------------------------------------------------------------- observation

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded calls in the order they were answered, optionally of one method."""
        with self._cond:
            if method is None:
                return list(self._calls)
            name = self._methods.get(method.lower(), (method, None))[0]
            return [call for call in self._calls if call.method == name]

    def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[SentMessage]:
        """The bot's messages in a chat, oldest first, each in its latest version."""
        with self._cond:
            stored = self._chat_messages.get(chat_id, {})
            result = []
            for message_id in self._bot_message_ids.get(chat_id, []):
                sent = stored[message_id].sent
                if sent is not None and (include_deleted or not sent.deleted):
                    result.append(sent)
            return result

    def photos(self, chat_id: int | None = None) -> list[SentPhoto]:
        """Accepted sendPhoto calls, oldest first, optionally for one chat."""
        with self._cond:
            return [p for p in self._photos if chat_id is None or p.chat_id == chat_id]

    async def await_photos(
        self,
        chat_id: int,
        count: int,
        timeout: float = 10.0,  # noqa: ASYNC109 - mirrors await_messages
    ) -> list[SentPhoto]:
        """Waits until the bot has sent at least ``count`` photos to the chat; returns them."""
        await self.await_for(
            lambda d: len(d.photos(chat_id)) >= count,
            timeout,
            description=f"{count} photo(s) in chat {chat_id}",
        )
        return self.photos(chat_id)

    def drafts(self, chat_id: int | None = None) -> list[Draft]:
        """Accepted sendMessageDraft calls, optionally for one chat."""
        with self._cond:
            return [d for d in self._drafts if chat_id is None or d.chat_id == chat_id]

    def answered_callback_ids(self) -> list[str]:
        """Ids of callback queries the bot answered, in answer order."""
        with self._cond:
            return [answer.query_id for answer in self._answers]

    def callback_answers(self) -> list[CallbackAnswer]:
        """The bot's accepted answerCallbackQuery calls."""
        with self._cond:
            return list(self._answers)

    def pending_updates(self) -> list[JSON]:
        """Updates the bot has not confirmed yet (copies)."""
        with self._cond:
            return copy.deepcopy(list(self._updates))

    def dropped_updates(self) -> list[JSON]:
        """Updates discarded because allowed_updates excluded their type when they arrived."""
        with self._cond:
            return copy.deepcopy(self._dropped)

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """Commands stored by setMyCommands for a scope (default scope if None) and language."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        with self._cond:
            return copy.deepcopy(self._commands.get(key, []))

    def internal_errors(self) -> list[str]:
        """Unexpected exceptions inside the double (answered as 500); should stay empty."""
        with self._cond:
            return list(self._internal_errors)

    def wait_for(
        self,
        predicate: Callable[[BotApiDouble], bool],
        timeout: float = 5.0,
        *,
        description: str | None = None,
    ) -> None:
        """Blocks until ``predicate(double)`` is true; raises TimeoutError describing the state.

        Do not call it on an event loop that runs the bot: use :meth:`await_for` there.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._timeout_message(predicate, timeout, description))
                # Bounded so that predicates over state outside the double are re-checked too.
                self._cond.wait(min(remaining, 0.05))

    async def await_for(
        self,
        predicate: Callable[[BotApiDouble], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors wait_for; the deadline is explicit
        *,
        description: str | None = None,
    ) -> None:
        """Async twin of :meth:`wait_for`; it polls, so the bot keeps running on the loop."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                if predicate(self):
                    return
            if time.monotonic() >= deadline:
                raise TimeoutError(self._timeout_message(predicate, timeout, description))
            await asyncio.sleep(0.002)

    def wait_for_messages(
        self, chat_id: int, count: int, timeout: float = 5.0
    ) -> list[SentMessage]:
        """Waits until the bot has at least ``count`` live messages in the chat; returns all."""
        self.wait_for(
            lambda d: len(d.messages(chat_id)) >= count,
            timeout,
            description=f"{count} bot message(s) in chat {chat_id}",
        )
        return self.messages(chat_id)

    async def await_messages(
        self,
        chat_id: int,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors wait_for_messages
    ) -> list[SentMessage]:
        """Async twin of :meth:`wait_for_messages`."""
        await self.await_for(
            lambda d: len(d.messages(chat_id)) >= count,
            timeout,
            description=f"{count} bot message(s) in chat {chat_id}",
        )
        return self.messages(chat_id)

    def _timeout_message(
        self, predicate: Callable[[BotApiDouble], bool], timeout: float, description: str | None
    ) -> str:
        with self._cond:
            what = description or getattr(predicate, "__qualname__", repr(predicate))
            recent = [
                f"{c.method} -> "
                + ("ok" if c.ok else f"{c.error_code} {c.description}")
                + (f" [{c.fault}]" if c.fault else "")
                for c in self._calls[-10:]
            ]
            lines = [
                f"timed out after {timeout}s waiting for {what}",
                f"pending updates: {len(self._updates)}, active long polls: {self._active_polls}",
                f"last calls ({len(self._calls)} total): " + ("; ".join(recent) or "none"),
            ]
            if self._internal_errors:
                lines.append("internal errors of the double: " + "; ".join(self._internal_errors))
            return "\n".join(lines)

    # ---------------------------------------------------------------- request processing

    def _process(self, raw_path: str, content_type: str, body: bytes) -> _Reply:
        """Answers one HTTP request; runs on the connection's thread."""
        try:
            return self._process_request(raw_path, content_type, body)
        except Exception as exc:  # a bug in the double must not look like a network error
            with self._cond:
                self._internal_errors.append(f"{raw_path}: {exc!r}")
            return self._error_reply(ApiError(500, f"Internal Server Error: {exc!r}"))

    def _process_request(self, raw_path: str, content_type: str, body: bytes) -> _Reply:
        received = time.monotonic()
        split = urlsplit(raw_path)
        if not split.path.startswith("/bot"):
            return self._error_reply(ApiError(404, "Not Found"))
        token, _, name = split.path[4:].partition("/")
        with self._cond:
            entry = self._methods.get(name.lower())
        if token != self._token:
            return self._finish_call(name, {}, received, error=ApiError(401, "Unauthorized"))
        if entry is None or not name:
            return self._finish_call(name, {}, received, error=ApiError(404, "Not Found"))
        method, handler = entry
        try:
            params = _decode_params(split.query, content_type, body)
        except ApiError as exc:
            return self._finish_call(method, {}, received, error=exc)
        fault = self._take_fault(method)
        if fault is None:
            return self._execute(method, handler, params, received)
        if fault.kind == "fail":
            error = ApiError(fault.status, fault.description, retry_after=fault.retry_after)
            return self._finish_call(method, params, received, error=error, fault="fail")
        if fault.kind == "delay":
            if not fault.apply:
                self._stop_event.wait(fault.seconds)
            reply = self._execute(method, handler, params, received, fault="delay")
            if fault.apply:
                self._stop_event.wait(fault.seconds)
            return reply
        if fault.apply:
            self._execute(method, handler, params, received, fault="reset")
        else:
            self._finish_call(
                method, params, received, error=ApiError(0, "connection reset"), fault="reset"
            )
        return _Reply(reset=True)

    def _take_fault(self, method: str) -> _Fault | None:
        with self._cond:
            queue = self._faults.get(method)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining == 0:
                queue.popleft()
            return fault

    def _execute(
        self,
        method: str,
        handler: MethodHandler,
        params: JSON,
        received: float,
        fault: str | None = None,
    ) -> _Reply:
        try:
            with self._cond:
                result = handler(params)
        except ApiError as exc:
            return self._finish_call(method, params, received, error=exc, fault=fault)
        except Exception as exc:  # reported as 500 and kept for internal_errors()
            with self._cond:
                self._internal_errors.append(f"{method}: {exc!r}")
            error = ApiError(500, f"Internal Server Error: {exc!r}")
            return self._finish_call(method, params, received, error=error, fault=fault)
        return self._finish_call(method, params, received, result=result, fault=fault)

    def _finish_call(
        self,
        method: str,
        params: JSON,
        received: float,
        *,
        result: Any = None,
        error: ApiError | None = None,
        fault: str | None = None,
    ) -> _Reply:
        with self._cond:
            if self.record_calls:
                self._calls.append(
                    Call(
                        method=method,
                        params=params,
                        time=received,
                        ok=error is None,
                        error_code=(error.error_code or None) if error else None,
                        description=error.description if error else None,
                        result=result,
                        fault=fault,
                    )
                )
            self._cond.notify_all()
        if error is not None:
            return self._error_reply(error)
        return _Reply(200, self._encode({"ok": True, "result": result}))

    def _error_reply(self, error: ApiError) -> _Reply:
        return _Reply(error.error_code or 500, self._encode(error.body()))

    @staticmethod
    def _encode(payload: JSON) -> bytes:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8", "surrogatepass"
        )

    # ---------------------------------------------------------------- shared validation

    def _chat_id(self, params: JSON, name: str = "chat_id") -> int:
        raw = params.get(name)
        if raw is None or raw == "":
            raise _bad_request(f"{name} is empty")
        chat_id: int | None = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            chat_id = raw
        elif isinstance(raw, str) and raw.startswith("@"):
            chat_id = self._usernames.get(raw[1:].lower())
        if chat_id is None or chat_id not in self._chats:
            raise _bad_request("chat not found")
        return chat_id

    def _check_reachable(self, chat_id: int) -> None:
        if chat_id not in self._blocked:
            return
        kind = self._chats[chat_id].get("type")
        if kind == "private":
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if kind == "channel":
            raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
        raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")

    def _parse_message_text(
        self, params: JSON, *, allow_empty: bool = False
    ) -> tuple[str, str, list[JSON]]:
        text = _opt_str(params, "text") or ""
        parse_mode = _opt_str(params, "parse_mode")
        raw_entities = params.get("entities")
        if raw_entities not in (None, "", []):
            plain, entities = self._explicit_entities(text, raw_entities)
        else:
            plain, entities = parse_text(text, parse_mode)
        if not plain and not allow_empty:
            raise _bad_request("message text is empty")
        if utf16_len(plain) > MAX_MESSAGE_LENGTH:
            raise _bad_request("message is too long")
        return text, plain, entities

    @staticmethod
    def _explicit_entities(text: str, raw: Any) -> tuple[str, list[JSON]]:
        if not isinstance(raw, list):
            raise _bad_request("can't parse entities JSON object")
        total = utf16_len(text)
        entities: list[JSON] = []
        for entity in raw:
            if not isinstance(entity, dict) or not isinstance(entity.get("type"), str):
                raise _bad_request(
                    'can\'t parse MessageEntity: Field "type" must be of type String'
                )
            offset, length = entity.get("offset"), entity.get("length")
            if not isinstance(offset, int) or not isinstance(length, int):
                raise _bad_request("can't parse MessageEntity: offset and length must be Integer")
            if offset < 0 or length <= 0 or offset + length > total:
                continue  # Telegram silently drops entities outside the text
            entities.append(dict(entity))
        return _finish(text, entities)

    def _flood_check(self, chat_id: int) -> None:
        if not self.enforce_flood_limits:
            return
        now = time.monotonic()
        bucket = self._chat_buckets.get(chat_id)
        if bucket is None:
            if chat_id > 0:
                bucket = _Bucket(self.private_chat_burst, self.private_chat_rate, now)
            else:
                per_minute = self.group_chat_per_minute
                bucket = _Bucket(per_minute, per_minute / 60.0, now)
            self._chat_buckets[chat_id] = bucket
        if self._global_bucket is None:
            self._global_bucket = _Bucket(self.global_rate, self.global_rate, now)
        wait = max(bucket.wait(now), self._global_bucket.wait(now))
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )
        bucket.tokens -= 1
        self._global_bucket.tokens -= 1

    def _bot_message_json(self, sent: SentMessage, reply_to: JSON | None) -> JSON:
        message: JSON = {
            "message_id": sent.message_id,
            "from": self._bot_user,
            "chat": self._chats[sent.chat_id],
            "date": sent.date,
        }
        if sent.edit_date is not None:
            message["edit_date"] = sent.edit_date
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message["text"] = sent.plain_text
        if sent.entities:
            message["entities"] = list(sent.entities)
        inline = _inline_part(sent.reply_markup)
        if inline is not None:
            message["reply_markup"] = inline
        return message

    def _live_message(self, params: JSON, missing: str) -> tuple[int, _Stored]:
        if params.get("inline_message_id"):
            raise _bad_request("MESSAGE_ID_INVALID")
        chat_id = self._chat_id(params)
        message_id = _opt_int(params, "message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        stored = self._chat_messages.get(chat_id, {}).get(message_id)
        if stored is None or stored.deleted:
            raise _bad_request(missing)
        return chat_id, stored

    # ---------------------------------------------------------------- Bot API methods

    def _m_true(self, params: JSON) -> bool:
        return True

    def _m_get_me(self, params: JSON) -> JSON:
        return {
            **self._bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_set_webhook(self, params: JSON) -> bool:
        url = _opt_str(params, "url") or ""
        if url and not url.lower().startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self._webhook_url = url
        self._webhook_secret = _opt_str(params, "secret_token") or ""
        if params.get("drop_pending_updates") is True:
            self._updates.clear()
        return True

    def _m_delete_webhook(self, params: JSON) -> bool:
        self._webhook_url = ""
        if params.get("drop_pending_updates") is True:
            self._updates.clear()
        return True

    def _m_get_webhook_info(self, params: JSON) -> JSON:
        info: JSON = {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._allowed_updates is not None:
            info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    def _m_get_updates(self, params: JSON) -> list[JSON]:
        if self._webhook_url:
            raise ApiError(409, CONFLICT_WEBHOOK)
        offset = _opt_int(params, "offset")
        limit = min(max(_opt_int(params, "limit") or 100, 1), 100)
        timeout_value = params.get("timeout") or 0
        if not isinstance(timeout_value, int | float) or isinstance(timeout_value, bool):
            raise _bad_request('field "timeout" must be of type Integer')
        allowed = params.get("allowed_updates")
        if allowed is not None and allowed != "":
            if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                raise _bad_request("can't parse allowed updates JSON array")
            self._allowed_updates = frozenset(allowed) if allowed else None
        if offset:
            if offset > 0:
                while self._updates and self._updates[0]["update_id"] < offset:
                    self._updates.popleft()
            else:
                while len(self._updates) > -offset:
                    self._updates.popleft()
        self._poll_generation += 1
        generation = self._poll_generation
        self._cond.notify_all()
        deadline = time.monotonic() + max(float(timeout_value), 0.0)
        self._active_polls += 1
        try:
            while True:
                if self._poll_generation != generation:
                    raise ApiError(409, CONFLICT_POLL)
                if self._updates or self._stopping:
                    return list(itertools.islice(self._updates, limit))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)
        finally:
            self._active_polls -= 1

    def _m_send_message(self, params: JSON) -> JSON:
        chat_id = self._chat_id(params)
        self._check_reachable(chat_id)
        text, plain, entities = self._parse_message_text(params)
        markup = _validate_reply_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat_id, params)
        self._flood_check(chat_id)
        sent = SentMessage(
            message_id=self._new_message_id(chat_id),
            chat_id=chat_id,
            text=text,
            parse_mode=_opt_str(params, "parse_mode"),
            plain_text=plain,
            entities=tuple(entities),
            reply_markup=markup,
            date=int(time.time()),
            reply_to_message_id=reply_to["message_id"] if reply_to else None,
        )
        message = self._bot_message_json(sent, reply_to)
        self._store(chat_id, _Stored(message, from_bot=True, sent=sent))
        self._bot_message_ids.setdefault(chat_id, []).append(sent.message_id)
        return message

    def _reply_target(self, chat_id: int, params: JSON) -> JSON | None:
        reply = params.get("reply_parameters")
        if reply in (None, ""):
            legacy = _opt_int(params, "reply_to_message_id")
            if legacy is None:
                return None
            reply = {
                "message_id": legacy,
                "allow_sending_without_reply": params.get("allow_sending_without_reply") is True,
            }
        if not isinstance(reply, dict) or not isinstance(reply.get("message_id"), int):
            raise _bad_request("can't parse reply parameters JSON object")
        target_chat = reply.get("chat_id", chat_id)
        stored = self._chat_messages.get(target_chat, {}).get(reply["message_id"])
        if stored is None or stored.deleted:
            if reply.get("allow_sending_without_reply") is True:
                return None
            raise _bad_request("message to be replied not found")
        reply_json = dict(stored.json)
        reply_json.pop("reply_to_message", None)
        return reply_json

    def _m_send_photo(self, params: JSON) -> JSON:
        chat_id = self._chat_id(params)
        self._check_reachable(chat_id)
        photo = params.get("photo")
        if isinstance(photo, UploadedFile):
            if len(photo.data) > MAX_PHOTO_BYTES:
                raise _bad_request("file is too big")
            size = _image_size(photo.data)
            if size is None:
                raise _bad_request("IMAGE_PROCESS_FAILED")
            file_id = f"AgACAgIAAxkDAAI{next(self._file_numbers):06d}photo"
            self._files[file_id] = (*size, len(photo.data))
            uploaded: bytes | None = photo.data
        elif isinstance(photo, str) and photo:
            if photo.startswith("attach://"):
                raise _bad_request("wrong HTTP URL specified")
            if photo not in self._files:
                raise _bad_request(WRONG_FILE_ID)
            file_id, uploaded = photo, None
        else:
            raise _bad_request("there is no photo in the request")
        caption = _opt_str(params, "caption") or ""
        parse_mode = _opt_str(params, "parse_mode")
        raw_entities = params.get("caption_entities")
        if raw_entities not in (None, "", []):
            plain, entities = self._explicit_entities(caption, raw_entities)
        else:
            plain, entities = parse_text(caption, parse_mode)
        if utf16_len(plain) > MAX_CAPTION_LENGTH:
            raise _bad_request("message caption is too long")
        markup = _validate_reply_markup(params.get("reply_markup"))
        self._flood_check(chat_id)
        width, height, size_bytes = self._files[file_id]
        sent = SentPhoto(
            message_id=self._new_message_id(chat_id),
            chat_id=chat_id,
            file_id=file_id,
            uploaded=uploaded,
            width=width,
            height=height,
            caption=caption,
            parse_mode=parse_mode,
            plain_caption=plain,
            caption_entities=tuple(entities),
            reply_markup=markup,
        )
        # Telegram answers every size it keeps, smallest first; the largest is what was sent.
        scale = min(1.0, 90 / max(width, height))
        sizes = [
            {
                "file_id": f"{file_id}-s",
                "file_unique_id": f"{file_id[-12:]}s",
                "width": max(1, round(width * scale)),
                "height": max(1, round(height * scale)),
                "file_size": max(1, size_bytes // 50),
            },
            {
                "file_id": file_id,
                "file_unique_id": file_id[-12:],
                "width": width,
                "height": height,
                "file_size": size_bytes,
            },
        ]
        message: JSON = {
            "message_id": sent.message_id,
            "from": self._bot_user,
            "chat": self._chats[chat_id],
            "date": int(time.time()),
            "photo": sizes,
        }
        if plain:
            message["caption"] = plain
        if entities:
            message["caption_entities"] = list(entities)
        inline = _inline_part(markup)
        if inline is not None:
            message["reply_markup"] = inline
        self._store(chat_id, _Stored(message, from_bot=True))
        self._photos.append(sent)
        return message

    def _m_send_message_draft(self, params: JSON) -> bool:
        chat_id = self._chat_id(params)
        self._check_reachable(chat_id)
        draft_id = _opt_int(params, "draft_id")
        if not draft_id:
            raise _bad_request("draft_id must be non-zero")
        # Bot API 10.0: an empty text shows a "Thinking..." placeholder, so it is allowed.
        text, plain, _ = self._parse_message_text(params, allow_empty=True)
        self._drafts.append(
            Draft(chat_id, draft_id, text, _opt_str(params, "parse_mode"), plain, time.monotonic())
        )
        return True

    def _m_edit_message_text(self, params: JSON) -> JSON:
        chat_id, stored = self._live_message(params, "message to edit not found")
        self._check_reachable(chat_id)
        if not stored.from_bot or stored.sent is None:
            raise _bad_request("message can't be edited")
        text, plain, entities = self._parse_message_text(params)
        markup = _validate_reply_markup(params.get("reply_markup"))
        current = stored.sent
        if (
            current.plain_text == plain
            and list(current.entities) == entities
            and _inline_part(current.reply_markup) == _inline_part(markup)
        ):
            raise _bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._replace_version(
            stored,
            replace(
                current,
                text=text,
                parse_mode=_opt_str(params, "parse_mode"),
                plain_text=plain,
                entities=tuple(entities),
                reply_markup=markup,
            ),
        )

    def _m_edit_message_reply_markup(self, params: JSON) -> JSON:
        chat_id, stored = self._live_message(params, "message to edit not found")
        self._check_reachable(chat_id)
        if not stored.from_bot or stored.sent is None:
            raise _bad_request("message can't be edited")
        markup = _validate_reply_markup(params.get("reply_markup"))
        if markup is not None and "inline_keyboard" not in markup:
            raise _bad_request("inline keyboard expected")
        current = stored.sent
        if _inline_part(current.reply_markup) == markup:
            raise _bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._replace_version(stored, replace(current, reply_markup=markup))

    def _replace_version(self, stored: _Stored, new: SentMessage) -> JSON:
        old = stored.sent
        assert old is not None  # only bot messages reach here
        new = replace(
            new, edit_date=int(time.time()), history=(*old.history, replace(old, history=()))
        )
        stored.sent = new
        stored.json = self._bot_message_json(new, stored.json.get("reply_to_message"))
        return stored.json

    def _m_delete_message(self, params: JSON) -> bool:
        _, stored = self._live_message(params, "message to delete not found")
        stored.deleted = True
        if stored.sent is not None:
            stored.sent = replace(stored.sent, deleted=True)
        return True

    def _m_answer_callback_query(self, params: JSON) -> bool:
        query_id = _opt_str(params, "callback_query_id") or ""
        query = self._queries.get(query_id)
        if (
            query is None
            or query.answered
            or time.monotonic() - query.created > self.callback_query_timeout
        ):
            raise _bad_request(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        text = _opt_str(params, "text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        self._answers.append(
            CallbackAnswer(
                query_id,
                text,
                params.get("show_alert") is True,
                _opt_str(params, "url"),
                _opt_int(params, "cache_time"),
            )
        )
        return True

    def _m_answer_inline_query(self, params: JSON) -> bool:
        query_id = _opt_str(params, "inline_query_id") or ""
        query = self._inline_queries.get(query_id)
        if (
            query is None
            or query.answered
            or time.monotonic() - query.created > self.callback_query_timeout
        ):
            raise _bad_request(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        results = params.get("results")
        if not isinstance(results, list):
            raise _bad_request("can't parse inline query results JSON object")
        if len(results) > MAX_INLINE_RESULTS:
            raise _bad_request("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        plain_texts: list[str] = []
        for result in results:
            plain_texts.append(self._inline_result(result, seen))
        query.answered = True
        self._inline_answers.append(
            InlineAnswer(
                query_id,
                results,
                plain_texts,
                _opt_int(params, "cache_time"),
                params.get("is_personal") is True,
            )
        )
        return True

    def _inline_result(self, result: Any, seen: set[str]) -> str:
        """Checks one InlineQueryResultArticle as Telegram does; returns its visible text."""
        if not isinstance(result, dict):
            raise _bad_request("can't parse inline query result: must be an Object")
        result_id = result.get("id")
        if not isinstance(result_id, str) or not (
            1 <= len(result_id.encode("utf-8")) <= MAX_INLINE_RESULT_ID_BYTES
        ):
            raise _bad_request("RESULT_ID_INVALID")
        if result_id in seen:
            raise _bad_request("RESULT_ID_DUPLICATE")
        seen.add(result_id)
        if result.get("type") != "article":
            raise _bad_request("RESULT_TYPE_INVALID")
        title = result.get("title")
        if not isinstance(title, str) or not title.strip():
            raise _bad_request("RESULT_TITLE_EMPTY")
        if "reply_markup" in result:
            markup = _validate_reply_markup(result["reply_markup"])
            if markup is None or set(markup) != {"inline_keyboard"}:
                raise _bad_request("REPLY_MARKUP_INVALID")
            for row in markup["inline_keyboard"]:
                for button in row:
                    if "callback_data" not in button and "url" not in button:
                        raise _bad_request("BUTTON_TYPE_INVALID")
        content = result.get("input_message_content")
        if not isinstance(content, dict) or not isinstance(content.get("message_text"), str):
            raise _bad_request("MESSAGE_EMPTY")
        _, plain, _ = self._parse_message_text(
            {"text": content["message_text"], "parse_mode": content.get("parse_mode")}
        )
        return plain

    def _m_send_chat_action(self, params: JSON) -> bool:
        chat_id = self._chat_id(params)
        self._check_reachable(chat_id)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    def _m_get_chat_member(self, params: JSON) -> JSON:
        chat_id = self._chat_id(params)
        self._check_reachable(chat_id)
        user_id = params.get("user_id")
        if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
            raise _bad_request("invalid user_id specified")
        user = self._users.get(user_id)
        if user is None:
            raise _bad_request("user not found")
        role = self._admins.get(chat_id, {}).get(user_id)
        if role == "creator":
            return {"status": "creator", "user": user, "is_anonymous": False}
        if role == "administrator":
            # The rights a default group administrator has; ChatMemberAdministrator needs them all.
            return {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                **{right: True for right in _ADMIN_RIGHTS},
                "can_promote_members": False,
            }
        return {"status": "member", "user": user}

    def _commands_key(self, params: JSON) -> tuple[str, str]:
        scope = params.get("scope")
        if scope in (None, ""):
            scope = {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
            raise _bad_request("can't parse BotCommandScope: unsupported scope type")
        if scope["type"] in ("chat", "chat_administrators", "chat_member"):
            self._chat_id(scope)
        if scope["type"] == "chat_member" and not isinstance(scope.get("user_id"), int):
            raise _bad_request("user not found")
        language = _opt_str(params, "language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad_request("invalid language code specified")
        return json.dumps(scope, sort_keys=True), language

    def _m_set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request('parameter "commands" must be an Array of BotCommand')
        if len(commands) > MAX_COMMANDS:
            raise _bad_request("BOT_COMMANDS_TOO_MUCH")
        stored: list[JSON] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad_request("can't parse BotCommand: BotCommand must be an Object")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str):
                raise _bad_request(
                    'can\'t parse BotCommand: Field "command" must be of type String'
                )
            if not isinstance(description, str):
                raise _bad_request(
                    'can\'t parse BotCommand: Field "description" must be of type String'
                )
            if not re.fullmatch(rf"[a-z0-9_]{{1,{MAX_COMMAND_LENGTH}}}", name):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not description.strip() or len(description) > MAX_COMMAND_DESCRIPTION_LENGTH:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            stored.append({"command": name, "description": description})
        self._commands[self._commands_key(params)] = stored
        return True

    def _m_get_my_commands(self, params: JSON) -> list[JSON]:
        return list(self._commands.get(self._commands_key(params), []))

    def _m_delete_my_commands(self, params: JSON) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

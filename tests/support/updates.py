"""Raw Telegram update payloads for :meth:`BotApiDouble.send_update`, and presses it cannot make.

Shapes follow the Bot API reference (https://core.telegram.org/bots/api#update): only the
required fields of each object are filled in, so python-telegram-bot parses them exactly as it
parses what Telegram sends. Builders return plain JSON dicts and talk no HTTP, except the two
``*_press`` helpers at the end, which enqueue callback queries the double's public API cannot
express (a press on an inaccessible message, a press answered too late).
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

from tests.support.botapi_double import BotApiDouble, _Query, utf16_len

JSON = dict[str, Any]
_file_ids = itertools.count(1)
# Far above the double's per-chat counters, so a raw message id never collides with one.
_message_ids = itertools.count(500_000)
_COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}(?!\w)")


def user(user_id: int, language_code: str | None = "en", first_name: str = "Test") -> JSON:
    """A human ``User``; ``language_code`` None leaves the field out, as Telegram may."""
    payload: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language_code:
        payload["language_code"] = language_code
    return payload


def chat(chat_id: int, chat_type: str = "private", title: str = "Test Group") -> JSON:
    """A ``Chat``: private chats carry a first name, groups and channels a title."""
    if chat_type == "private":
        return {"id": chat_id, "type": "private", "first_name": "Test"}
    return {"id": chat_id, "type": chat_type, "title": title}


# ---- message contents (merged into a Message) ----------------------------------------------


def text(value: str) -> JSON:
    """Text with the entities Telegram detects: a leading bot command and @mentions."""
    content: JSON = {"text": value}
    entities = []
    command = _COMMAND.match(value)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": command.end()})
    for mention in _MENTION.finditer(value):
        start, end = mention.span()
        entities.append(
            {
                "type": "mention",
                "offset": utf16_len(value[:start]),
                "length": utf16_len(value[start:end]),
            }
        )
    if entities:
        content["entities"] = entities
    return content


def _file(prefix: str) -> JSON:
    number = next(_file_ids)
    return {"file_id": f"{prefix}-{number}", "file_unique_id": f"u{prefix}{number}"}


def sticker() -> JSON:
    return {
        "sticker": {
            **_file("sticker"),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
    }


def photo(caption: str | None = None) -> JSON:
    sizes = [{**_file("photo"), "width": w, "height": w, "file_size": w * 40} for w in (90, 320)]
    content: JSON = {"photo": sizes}
    if caption is not None:
        content["caption"] = caption
    return content


def voice() -> JSON:
    return {"voice": {**_file("voice"), "duration": 3, "mime_type": "audio/ogg"}}


def location() -> JSON:
    return {"location": {"latitude": 48.8566, "longitude": 2.3522}}


def contact() -> JSON:
    return {"contact": {"phone_number": "+33612345678", "first_name": "Ada"}}


def document(file_name: str = "report.pdf") -> JSON:
    return {"document": {**_file("doc"), "file_name": file_name, "mime_type": "application/pdf"}}


def dice() -> JSON:
    return {"dice": {"emoji": "🎲", "value": 4}}


def new_members(member: JSON) -> JSON:
    """The service message a group shows when someone joins."""
    return {"new_chat_members": [member]}


# ---- messages and other updates ------------------------------------------------------------


def message(chat_payload: JSON, sender: JSON | None, content: JSON) -> JSON:
    """A ``Message``; ``sender`` None makes a channel post, signed by the chat itself."""
    payload: JSON = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": chat_payload,
    }
    if sender is None:
        payload["sender_chat"] = chat_payload
    else:
        payload["from"] = sender
    payload.update(content)
    return payload


def edited(original: JSON, new_text: str) -> JSON:
    """The same message with new text and an ``edit_date``, as in ``edited_message``."""
    payload = {k: v for k, v in original.items() if k != "entities"}
    return {**payload, **text(new_text), "edit_date": int(time.time()) + 1}


def reaction(chat_payload: JSON, sender: JSON, message_id: int) -> JSON:
    """A ``message_reaction`` payload: the user put 👍 on a message."""
    return {
        "chat": chat_payload,
        "message_id": message_id,
        "user": sender,
        "date": int(time.time()),
        "old_reaction": [],
        "new_reaction": [{"type": "emoji", "emoji": "👍"}],
    }


def my_chat_member(chat_payload: JSON, sender: JSON, bot: JSON, status: str) -> JSON:
    """A ``my_chat_member`` payload: the bot's status in the chat became ``status``."""
    new_member: JSON = {"user": bot, "status": status}
    if status == "kicked":
        new_member["until_date"] = 0
    return {
        "chat": chat_payload,
        "from": sender,
        "date": int(time.time()),
        "old_chat_member": {"user": bot, "status": "member"},
        "new_chat_member": new_member,
    }


# ---- button presses the double's public API cannot make ------------------------------------
# Both reach into the double's query records under its lock, so the bot cannot poll the update
# before the record is ready.


def inaccessible_press(
    double: BotApiDouble, sender: JSON, chat_payload: JSON, message_id: int, data: str
) -> str:
    """Enqueues a press on a message Telegram no longer shows the bot; returns the query id.

    Telegram sends such a message as ``InaccessibleMessage`` (``date`` 0, only chat and id),
    e.g. when the pressed message is older than 48 hours.
    """
    with double._cond:
        query_id = str(next(double._query_ids))
        double._queries[query_id] = _Query(time.monotonic())
        double.send_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": sender,
                    "message": {"chat": chat_payload, "message_id": message_id, "date": 0},
                    "chat_instance": str(abs(chat_payload["id"]) * 7919 % 10**12),
                    "data": data,
                }
            }
        )
    return query_id


def expired_press(
    double: BotApiDouble,
    user_id: int,
    message_id: int,
    data: str,
    *,
    chat_id: int | None = None,
    language_code: str | None = "en",
) -> str:
    """A press that reaches the bot after Telegram stopped accepting an answer to it.

    That is what a bot sees for presses made while it was down: answerCallbackQuery then
    fails with "query is too old".
    """
    with double._cond:
        query_id = double.press_button(
            user_id,
            message_id,
            data,
            chat_id=chat_id,
            language_code=language_code,
            strict=False,
        )
        double._queries[query_id].created -= double.callback_query_timeout + 60
    return query_id

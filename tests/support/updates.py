"""Raw Telegram update payloads for :meth:`BotApiDouble.send_update`.

Shapes follow the Bot API reference (https://core.telegram.org/bots/api#update): only the
required fields of each object are filled in, so that python-telegram-bot parses them exactly as
it would parse what Telegram sends. Builders return plain JSON dicts; nothing here talks HTTP.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from tests.support.botapi_double import BotApiDouble

JSON = dict[str, Any]
_file_ids = itertools.count(1)


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
    return {
        "document": {**_file("doc"), "file_name": file_name, "mime_type": "application/pdf"}
    }


def dice() -> JSON:
    return {"dice": {"emoji": "🎲", "value": 4}}


def message(
    double: BotApiDouble,
    chat_payload: JSON,
    sender: JSON | None,
    content: JSON,
    *,
    message_id: int | None = None,
) -> JSON:
    """A ``Message`` in a chat; ``sender`` None makes a channel post (``sender_chat``)."""
    payload: JSON = {
        "message_id": message_id if message_id is not None else next_message_id(double),
        "date": int(time.time()),
        "chat": chat_payload,
    }
    if sender is None:
        payload["sender_chat"] = chat_payload
    else:
        payload["from"] = sender
    payload.update(content)
    return payload


def edited(original: JSON, text: str) -> JSON:
    """The same message with new text and an ``edit_date``, as in ``edited_message``."""
    return {**original, "text": text, "edit_date": int(time.time()) + 1}


_message_ids = itertools.count(500_000)


def next_message_id(double: BotApiDouble) -> int:
    """A message id far above the double's per-chat counters, so it never collides."""
    del double  # one counter for the whole run is enough
    return next(_message_ids)


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
    """A ``my_chat_member`` payload: the bot's status in the chat changed to ``status``."""
    return {
        "chat": chat_payload,
        "from": sender,
        "date": int(time.time()),
        "old_chat_member": {"user": bot, "status": "member"},
        "new_chat_member": {"user": bot, "status": status}
        | ({"until_date": 0} if status == "kicked" else {}),
    }


def callback_on_inaccessible_message(
    double: BotApiDouble, sender: JSON, chat_payload: JSON, message_id: int, data: str
) -> str:
    """Enqueues a button press on a message Telegram no longer shows the bot; returns its id.

    Telegram sends such a message as ``InaccessibleMessage`` (``date`` 0, only chat and id)
    when the pressed message is older than 48 hours. :meth:`BotApiDouble.press_button` only
    presses live messages, so the query is registered with the double here (it has no public
    hook for that), which lets the bot answer it like any other.
    """
    from tests.support.botapi_double import _Query  # the double's own query record

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

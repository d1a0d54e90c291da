"""Charts over real HTTP against the Bot API double: uploaded once, then resent by file_id."""

from __future__ import annotations

import pytest

from bot.tg.app import BotApplication
from tests.support.botapi_double import BotApiDouble
from tests.tg.conftest import assert_all_accepted

pytestmark = pytest.mark.e2e


async def test_chart_in_french_is_uploaded_once_then_resent_by_file_id(
    double: BotApiDouble, polling_bot: BotApplication
) -> None:
    double.send_text(1, "/chart stakes", language_code="fr")
    [first] = await double.await_photos(1, 1)
    assert first.uploaded is not None and first.uploaded.startswith(b"\x89PNG")
    assert (first.width, first.height) == (1080, 810)
    assert first.plain_caption.startswith("Participations : les chiffres au fil du temps")
    assert "22 juillet 2019 : 1 milliard de dollars" in first.plain_caption
    assert "11 mai 2025 : plus de 13 milliards de dollars" in first.plain_caption
    assert "Sources" in first.plain_caption and "Financial Times" in first.plain_caption
    assert len(first.plain_caption) <= 1024
    double.send_text(1, "/chart stakes", language_code="fr")
    second = (await double.await_photos(1, 2))[1]
    assert second.uploaded is None and second.file_id == first.file_id
    [upload, resend] = [c.params["photo"] for c in double.calls("sendPhoto")]
    assert not isinstance(upload, str) and resend == first.file_id
    # English is another picture: a new upload.
    double.send_text(2, "/chart stakes", language_code="en")
    [english] = await double.await_photos(2, 1)
    assert english.uploaded is not None and english.file_id != first.file_id
    assert english.plain_caption.startswith("Stakes: the figures over time")
    assert "May 11, 2025: more than $13 billion" in english.plain_caption
    assert_all_accepted(double)


async def test_chart_button_and_no_series(
    double: BotApiDouble, polling_bot: BotApplication
) -> None:
    double.send_text(3, "/brief stakes", language_code="en")
    [briefing] = await double.await_messages(3, 1)
    assert "v1:chart:stakes" in briefing.callback_data
    double.press_button(3, briefing.message_id, "v1:chart:stakes")
    [photo] = await double.await_photos(3, 1)
    assert photo.plain_caption.startswith("Stakes: the figures over time")
    # The revenue share has one dated percentage in the content: no series, no button.
    double.send_text(4, "/brief revenue", language_code="fr")
    [revenue] = await double.await_messages(4, 1)
    assert not any(data.startswith("v1:chart:") for data in revenue.callback_data)
    double.send_text(4, "/chart revenue", language_code="fr")
    [_, none] = await double.await_messages(4, 2)
    assert "pas encore assez de chiffres datés" in none.plain_text
    assert double.photos(4) == []
    assert_all_accepted(double)


def test_send_photo_validation(double: BotApiDouble) -> None:
    import json
    import urllib.error
    import urllib.request

    double.send_text(5, "hello")

    def call(payload: dict[str, object]) -> tuple[int, str]:
        request = urllib.request.Request(
            f"{double.base_url}{double.token}/sendPhoto",
            json.dumps(payload).encode(),
            {"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status, json.loads(answer.read())["result"]["photo"][-1]["file_id"]
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())["description"]

    assert call({"chat_id": 5, "photo": "nope"}) == (
        400,
        "Bad Request: wrong file identifier/HTTP URL specified",
    )
    assert call({"chat_id": 5})[0] == 400
    from bot.app.charts import render_text_card

    boundary = "xXx"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="chat_id"\r\n\r\n5\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + render_text_card("t", ["x"])
        + f"\r\n--{boundary}--\r\n".encode()
    )
    upload = urllib.request.Request(
        f"{double.base_url}{double.token}/sendPhoto",
        body,
        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(upload) as answer:
        file_id = json.loads(answer.read())["result"]["photo"][-1]["file_id"]
    assert call({"chat_id": 5, "photo": file_id}) == (200, file_id)
    too_long = {"chat_id": 5, "photo": file_id, "caption": "<b>x</b>" + "y" * 1024}
    assert call({**too_long, "parse_mode": "HTML"})[0] == 400
    assert call({**too_long, "caption": "<b>x</b>" + "y" * 1016, "parse_mode": "HTML"})[0] == 200
    bad = call({"chat_id": 5, "photo": file_id, "caption": "<b>x", "parse_mode": "HTML"})
    assert bad[0] == 400 and "can't parse entities" in bad[1]

"""Charts drawn: the figure's texts in the reader's language, one panel per series, the PNG."""

from __future__ import annotations

import datetime as dt
import struct

from bot.app.charts import ChartCache, chart_size, draw_chart, render_chart, render_text_card
from bot.app.router import Router
from bot.compose.chart import compose_chart_reply
from bot.core.domain import Chart, Library, Who
from bot.i18n.languages import Languages
from bot.i18n.translator import translator
from tests.support.series import with_stake_percent


class _Prefs:
    def __init__(self) -> None:
        self.langs: dict[int, str] = {}

    def get_lang(self, user_id: int) -> str | None:
        return self.langs.get(user_id)

    def set_lang(self, user_id: int, lang: str) -> None:
        self.langs[user_id] = lang


def _chart(library: Library, topic: str, lang: str) -> Chart:
    chart = compose_chart_reply(library, topic, translator(lang)).chart  # type: ignore[arg-type]
    assert chart is not None
    return chart


def test_revision_follows_the_facts_and_keys_the_cache(library: Library) -> None:
    fr, en = _chart(library, "stakes", "fr"), _chart(library, "stakes", "en")
    assert fr.revision == en.revision and fr.key != en.key


def _texts(chart: Chart) -> list[dict[str, list[str]]]:
    """Every text the drawn figure holds, panel by panel (the figure's title with each)."""
    figure = draw_chart(chart)
    return [
        {
            "title": [figure.get_suptitle()],
            "panel": [axes.get_title()],
            "x": [axes.get_xlabel()],
            "y": [axes.get_ylabel()],
            "xticks": [t.get_text() for t in axes.get_xticklabels()],
            "yticks": [t.get_text() for t in axes.get_yticklabels()],
            "bars": [t.get_text() for t in axes.texts],
        }
        for axes in figure.axes
    ]


def test_chart_texts_are_in_french(library: Library) -> None:
    [texts] = _texts(_chart(library, "stakes", "fr"))
    assert texts["title"] == ["Participations : les chiffres au fil du temps"]
    assert texts["panel"] == ["Montant total investi par Microsoft dans OpenAI"]
    assert texts["x"] == ["Date du chiffre"] and texts["y"] == ["Montant (USD)"]
    assert texts["xticks"] == ["juillet 2019", "mai 2025"]
    assert texts["yticks"] == ["0", "5\xa0Md\xa0$US", "10\xa0Md\xa0$US", "15\xa0Md\xa0$US"]
    assert texts["bars"] == ["1 milliard de dollars", "plus de 13 milliards\nde dollars"]


def test_chart_texts_are_in_english(library: Library) -> None:
    [texts] = _texts(_chart(library, "stakes", "en"))
    assert texts["title"] == ["Stakes: the figures over time"]
    assert texts["panel"] == ["Total Microsoft has invested in OpenAI"]
    assert texts["x"] == ["Date of the figure"] and texts["y"] == ["Amount (USD)"]
    assert texts["xticks"] == ["July 2019", "May 2025"]
    assert texts["yticks"] == ["0", "$5B", "$10B", "$15B"]
    assert texts["bars"] == ["$1 billion", "more than $13 billion"]


def test_bars_stand_at_their_dates(library: Library) -> None:
    """Six years between the two figures show as six years, not as two neighbouring bars."""
    [axes] = draw_chart(_chart(library, "stakes", "en")).axes
    centres = [patch.get_x() + patch.get_width() / 2 for patch in axes.patches]
    assert centres == [dt.date(2019, 7, 22).toordinal(), dt.date(2025, 5, 11).toordinal()]
    assert [patch.get_height() for patch in axes.patches] == [1e9, 13e9]


def test_two_series_are_two_panels_that_share_no_axis(library: Library) -> None:
    chart = _chart(with_stake_percent(library), "stakes", "fr")
    money, percent = _texts(chart)
    assert money["y"] == ["Montant (USD)"] and percent["y"] == ["Pourcentage"]
    assert percent["panel"] == ["Part de Microsoft"]
    assert percent["xticks"] == ["janvier 2023", "octobre 2025"]
    assert percent["yticks"] == ["0", "20\xa0%", "40\xa0%", "60\xa0%"]
    assert percent["bars"] == ["49\xa0%", "environ 27\xa0%"]
    first, second = draw_chart(chart).axes
    assert not first.get_shared_y_axes().joined(first, second)
    assert not first.get_shared_x_axes().joined(first, second)
    assert chart_size(chart) == (1080, 1350)
    assert _png_size(render_chart(chart)) == (1080, 1350)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_render_is_a_phone_sized_png(library: Library) -> None:
    for lang in ("fr", "en"):
        data = render_chart(_chart(library, "stakes", lang))
        assert _png_size(data) == (1080, 810)
        assert 10_000 < len(data) < 200_000
    card = render_text_card("Participations", ["Une ligne de texte."] * 3)
    assert _png_size(card)[0] == 1080


def test_cache_renders_once_and_keeps_the_file_id(library: Library) -> None:
    cache = ChartCache()
    chart = _chart(library, "stakes", "fr")
    assert cache.png(chart) == cache.png(chart) and cache.renders == 1
    assert cache.file_id(chart) is None
    cache.remember(chart, "AgAC-1")
    assert cache.file_id(chart) == "AgAC-1"
    assert cache.file_id(_chart(library, "stakes", "en")) is None
    cache.forget(chart)
    assert cache.file_id(chart) is None


def test_chart_button_only_where_there_is_a_series(library: Library) -> None:
    router = Router(lambda: library, Languages(_Prefs()))  # type: ignore[arg-type]
    who = Who(1, "fr")
    stakes = [b.action for row in router.brief(who, "stakes").buttons for b in row]
    assert "v1:chart:stakes" in stakes
    for topic in ("revenue", "infrastructure", "ipo"):
        others = [b.action for row in router.brief(who, topic).buttons for b in row]
        assert not any(action.startswith("v1:chart:") for action in others), topic
    overview = [b.action for row in router.brief(who, None).buttons for b in row]
    assert not any(action.startswith("v1:chart:") for action in overview)
    none = router.chart(who, "ipo")
    assert none.chart is None
    assert "pas encore assez de chiffres datés" in none.blocks[0].text
    assert router.chart(Who(2, "en"), "ipo").blocks[0].text.startswith("There are not enough")
    assert router.chart(who, "").chart is None
    pressed = router.action(who, "v1:chart:stakes")
    assert pressed.chart is not None and pressed.chart.lang == "fr"
    # A Chart button sent before the revenue chart was withdrawn now answers in words.
    old = router.action(who, "v1:chart:revenue")
    assert old.chart is None and "pas encore assez de chiffres datés" in old.blocks[0].text

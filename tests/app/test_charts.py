"""Charts: the series a topic gives, the figure's texts in the reader's language, the PNG."""

from __future__ import annotations

import struct

from bot.app.charts import ChartCache, draw_chart, render_chart, render_text_card
from bot.app.router import Router
from bot.compose.chart import compose_chart_reply, topic_series
from bot.core.domain import Chart, Library, Who
from bot.i18n.languages import Languages
from bot.i18n.translator import translator


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


def _texts(chart: Chart) -> dict[str, list[str]]:
    figure = draw_chart(chart)
    [axes] = figure.axes
    return {
        "title": [axes.get_title()],
        "x": [axes.get_xlabel()],
        "y": [axes.get_ylabel()],
        "xticks": [t.get_text() for t in axes.get_xticklabels()],
        "yticks": [t.get_text() for t in axes.get_yticklabels()],
        "bars": [t.get_text() for t in axes.texts],
    }


def test_series_per_topic(library: Library) -> None:
    stakes = topic_series(library, "stakes")
    assert stakes is not None and stakes.kind == "money"
    assert [p.figure.value for p in stakes.points] == [13_000_000_000, 135_000_000_000]
    assert [p.day for p in stakes.points] == sorted(p.day for p in stakes.points)
    revenue = topic_series(library, "revenue")
    assert revenue is not None and revenue.kind == "percent"
    assert [p.figure.value for p in revenue.points] == [0.2, 0.1]
    infrastructure = topic_series(library, "infrastructure")
    assert infrastructure is not None and len(infrastructure.points) == 3
    assert topic_series(library, "ipo") is None


def test_revision_follows_the_facts_and_keys_the_cache(library: Library) -> None:
    fr, en = _chart(library, "stakes", "fr"), _chart(library, "stakes", "en")
    assert fr.revision == en.revision and fr.key != en.key


def test_chart_texts_are_in_french(library: Library) -> None:
    texts = _texts(_chart(library, "stakes", "fr"))
    assert texts["title"] == ["Participations : les montants au fil du temps"]
    assert texts["x"] == ["Date du chiffre"] and texts["y"] == ["Montant (USD)"]
    assert texts["xticks"] == ["mai 2025", "octobre 2025"]
    assert "150\xa0Md\xa0$US" in texts["yticks"]
    assert texts["bars"] == ["13 milliards de dollars", "135 milliards de dollars"]


def test_chart_texts_are_in_english(library: Library) -> None:
    texts = _texts(_chart(library, "stakes", "en"))
    assert texts["title"] == ["Stakes: amounts over time"]
    assert texts["x"] == ["Date of the figure"] and texts["y"] == ["Amount (USD)"]
    assert texts["xticks"] == ["May 2025", "October 2025"]
    assert "$150B" in texts["yticks"]
    assert texts["bars"] == ["$13 billion", "$135 billion"]
    percent = _texts(_chart(library, "revenue", "fr"))
    assert percent["bars"] == ["20\xa0%", "10\xa0%"] and "Pourcentage" in percent["y"]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_render_is_a_phone_sized_png(library: Library) -> None:
    for lang in ("fr", "en"):
        data = render_chart(_chart(library, "infrastructure", lang))
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
    ipo = [b.action for row in router.brief(who, "ipo").buttons for b in row]
    assert not any(action.startswith("v1:chart:") for action in ipo)
    overview = [b.action for row in router.brief(who, None).buttons for b in row]
    assert not any(action.startswith("v1:chart:") for action in overview)
    none = router.chart(who, "ipo")
    assert none.chart is None
    assert "pas encore assez de chiffres datés" in none.blocks[0].text
    assert router.chart(Who(2, "en"), "ipo").blocks[0].text.startswith("There are not enough")
    assert router.chart(who, "").chart is None
    pressed = router.action(who, "v1:chart:stakes")
    assert pressed.chart is not None and pressed.chart.lang == "fr"

"""The README's pictures, drawn by the bot's own renderer: a chart and an inline fact card, in
French and in English.

    python docs/make_images.py
"""

from __future__ import annotations

from pathlib import Path

from bot.app.charts import render_chart, render_text_card
from bot.app.router import Router
from bot.compose.chart import compose_chart_reply
from bot.compose.render_text import block_text
from bot.content.loader import load_library
from bot.core.domain import Lang, Who
from bot.i18n.languages import Languages
from bot.i18n.translator import translator

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "images"
CARD_FACT = "stakes-microsoft-27pct-of-openai-group"


class _NoPrefs:
    def get_lang(self, user_id: int) -> Lang | None:
        return None

    def set_lang(self, user_id: int, lang: Lang) -> None:
        pass


def main() -> None:
    library = load_library(ROOT / "content")
    router = Router(lambda: library, Languages(_NoPrefs()))
    OUT.mkdir(parents=True, exist_ok=True)
    for lang in ("fr", "en"):
        chart = compose_chart_reply(library, "stakes", translator(lang)).chart
        assert chart is not None
        (OUT / f"chart-stakes-{lang}.png").write_bytes(render_chart(chart))
        [card] = [c for c in router.inline(Who(1, lang), "") if c.fact_id == CARD_FACT]
        title, *rest = card.reply.blocks
        lines = [block_text(block) for block in rest]
        (OUT / f"inline-card-{lang}.png").write_bytes(render_text_card(title.text, lines))
    for path in sorted(OUT.glob("*.png")):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
